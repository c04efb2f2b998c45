package store

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names of the single table. The CDK stack and the SAM
// template declare the same schema; their tests compare against these.
const (
	AttrPK      = "PK"
	AttrSK      = "SK"
	AttrGSI1PK  = "GSI1PK"
	AttrGSI1SK  = "GSI1SK"
	AttrGSI2PK  = "GSI2PK"
	AttrGSI2SK  = "GSI2SK"
	AttrGSI3PK  = "GSI3PK"
	AttrGSI3SK  = "GSI3SK"
	IndexGSI1   = "GSI1"
	IndexGSI2   = "GSI2"
	IndexGSI3   = "GSI3"
	AttrExpires = "expiresAt" // TTL attribute (epoch seconds)
)

// TableDefinition is the table as tests and the local server create it: string
// keys PK and SK; GSI1 (GSI1PK, GSI1SK), which inverts memberships (item →
// groups) and lists a tenant's groups by name; and GSI2 (GSI2PK, GSI2SK), the
// created-order index of every list; and GSI3 (GSI3PK, GSI3SK), the tree
// order of a tenant's groups (keys.go). All project all attributes.
func TableDefinition(name string) *dynamodb.CreateTableInput {
	str := types.ScalarAttributeTypeS
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: str},
			{AttributeName: aws.String(AttrSK), AttributeType: str},
			{AttributeName: aws.String(AttrGSI1PK), AttributeType: str},
			{AttributeName: aws.String(AttrGSI1SK), AttributeType: str},
			{AttributeName: aws.String(AttrGSI2PK), AttributeType: str},
			{AttributeName: aws.String(AttrGSI2SK), AttributeType: str},
			{AttributeName: aws.String(AttrGSI3PK), AttributeType: str},
			{AttributeName: aws.String(AttrGSI3SK), AttributeType: str},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi(IndexGSI1, AttrGSI1PK, AttrGSI1SK),
			gsi(IndexGSI2, AttrGSI2PK, AttrGSI2SK),
			gsi(IndexGSI3, AttrGSI3PK, AttrGSI3SK),
		},
		// Issue 9: the change feed reads every write of the table, with
		// both images, from its stream (changes.go).
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	}
}

// TableOption changes the table CreateTable creates.
type TableOption func(*dynamodb.CreateTableInput)

// WithoutStream leaves the stream out: tests that do not read the change
// feed use it, since DynamoDB Local writes several times slower with
// streams on while many tables are written at once (pkg/store's tests took
// 154 s with streams, 24 s without).
func WithoutStream(in *dynamodb.CreateTableInput) { in.StreamSpecification = nil }

func gsi(name, pk, sk string) types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange},
		},
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
	}
}
