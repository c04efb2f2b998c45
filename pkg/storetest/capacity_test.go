package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

type item = map[string]types.AttributeValue

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// TestItemSizeAgreesWithDynamoDBLocal writes items holding each attribute
// type, padded by itemSize to 1,024 bytes and to 1,025, in standard writes:
// DynamoDB Local must bill 1 unit and 2. An itemSize a byte off for any type
// fails one of the two.
func TestItemSizeAgreesWithDynamoDBLocal(t *testing.T) {
	t.Parallel()
	st, _ := NewStore(t)
	m, db := newMeteredClient(t)
	cases := []struct {
		name  string
		value types.AttributeValue
	}{
		{"string", str("héllo")},
		{"number", &types.AttributeValueMemberN{Value: "1735689600"}},
		{"number-fraction", &types.AttributeValueMemberN{Value: "0.0500"}},
		{"number-negative", &types.AttributeValueMemberN{Value: "-5"}},
		{"number-odd-pairs", &types.AttributeValueMemberN{Value: "123.45"}},
		{"number-split-pair", &types.AttributeValueMemberN{Value: "1.2"}},
		{"number-inner-zeros", &types.AttributeValueMemberN{Value: "1700.0005"}},
		{"binary", &types.AttributeValueMemberB{Value: []byte{1, 2, 3}}},
		{"bool", &types.AttributeValueMemberBOOL{Value: true}},
		{"null", &types.AttributeValueMemberNULL{Value: true}},
		{"list", &types.AttributeValueMemberL{Value: []types.AttributeValue{str("a"), &types.AttributeValueMemberN{Value: "12"}}}},
		{"map", &types.AttributeValueMemberM{Value: item{"k": str("v"), "longer": &types.AttributeValueMemberBOOL{}}}},
		{"string-set", &types.AttributeValueMemberSS{Value: []string{"a", "bc"}}},
		{"number-set", &types.AttributeValueMemberNS{Value: []string{"1", "234"}}},
	}
	for _, c := range cases {
		for _, size := range []int{1024, 1025} {
			it := item{"PK": str("size"), "SK": str(c.name), "v": c.value, "pad": str("")}
			it["pad"] = str(strings.Repeat("x", size-itemSize(it)))
			_, err := db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(st.Table()), Item: it})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := m.Take().WriteUnits, writeUnits(size); got != want {
				t.Errorf("%s padded to %d bytes: DynamoDB Local billed %v units, want %v", c.name, size, got, want)
			}
		}
	}
}

// TestMeterTransactionUnits: the units the meter records for a transaction,
// by AWS's rules (see transactionUnits), with DynamoDB Local doing the writes.
func TestMeterTransactionUnits(t *testing.T) {
	t.Parallel()
	st, _ := NewStore(t)
	m, db := newMeteredClient(t)
	table := aws.String(st.Table())
	key := func(sk string) item { return item{"PK": str("tx"), "SK": str(sk)} }
	// indexed is a small item in both indexes (GSI1 under gsi1, GSI2).
	indexed := func(sk, gsi1 string) item {
		return item{"PK": str("tx"), "SK": str(sk), "GSI1PK": str(gsi1), "GSI1SK": str("a"), "GSI2PK": str("g2"), "GSI2SK": str(sk)}
	}
	put := func(it item) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{TableName: table, Item: it}}
	}
	set := func(sk, expr string, values item) types.TransactWriteItem {
		return types.TransactWriteItem{Update: &types.Update{
			TableName: table, Key: key(sk), UpdateExpression: aws.String(expr), ExpressionAttributeValues: values,
		}}
	}
	cases := []struct {
		name    string
		before  []item // written first, in standard writes
		actions []types.TransactWriteItem
		want    float64
	}{
		{"put-new-small-2", nil, []types.TransactWriteItem{put(key("a"))}, 2},
		{"put-new-2KB-4", nil, []types.TransactWriteItem{put(item{"PK": str("tx"), "SK": str("b"), "pad": str(strings.Repeat("x", 2000))})}, 4},
		{"put-two-small-4", nil, []types.TransactWriteItem{put(key("c")), put(key("d"))}, 4},
		{"put-new-indexed-2-plus-1-per-index", nil, []types.TransactWriteItem{put(indexed("e", "x"))}, 4},
		{"update-indexed-item-updates-both-indexes", []item{indexed("f", "x")}, []types.TransactWriteItem{
			set("f", "SET n = :n", item{":n": str("1")}),
		}, 4},
		{"update-index-key-deletes-and-puts-its-entry", []item{indexed("g", "x")}, []types.TransactWriteItem{
			set("g", "SET GSI1PK = :k", item{":k": str("y")}),
		}, 2 + 2 + 1},
		{"remove-index-key-deletes-its-entry", []item{indexed("h", "x")}, []types.TransactWriteItem{
			set("h", "REMOVE GSI1PK", nil),
		}, 2 + 1 + 1},
		{"delete-indexed-item", []item{indexed("i", "x")}, []types.TransactWriteItem{
			{Delete: &types.Delete{TableName: table, Key: key("i")}},
		}, 2 + 1 + 1},
		{"condition-check-2", []item{indexed("j", "x")}, []types.TransactWriteItem{
			put(key("k")),
			{ConditionCheck: &types.ConditionCheck{TableName: table, Key: key("j"), ConditionExpression: aws.String("attribute_exists(PK)")}},
		}, 2 + 2},
	}
	ctx := context.Background()
	for _, c := range cases {
		for _, it := range c.before {
			if _, err := m.peek.PutItem(ctx, &dynamodb.PutItemInput{TableName: table, Item: it}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: c.actions}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := m.Take()
		if got.WriteUnits != c.want || got.ReadUnits != 0 || got.Unreported != 0 || got.Requests["TransactWriteItems"] != 1 {
			t.Errorf("%s: usage %+v, want %v write units of 1 TransactWriteItems", c.name, got, c.want)
		}
	}
}
