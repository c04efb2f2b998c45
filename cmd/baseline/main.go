// Command baseline is the yardstick of `make bench-coldstart`: get-group
// written the plain way, as AWS's samples write a Go Lambda. aws-lambda-go,
// aws-sdk-go-v2's config.LoadDefaultConfig, one DynamoDB client made at
// init, and one GetItem per request of the group item get-group reads,
// answered as JSON. It imports nothing of this project, so that what the
// project's functions add (metering, validation, problems, routing) shows
// in the ratios against it; it is never deployed.
//
// It reads TABLE_NAME, and DYNAMODB_ENDPOINT as the project's functions do,
// so that it runs against DynamoDB Local.
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var (
	db    *dynamodb.Client
	table = os.Getenv("TABLE_NAME")
)

func init() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatalf("load AWS config: %v", err)
	}
	db = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if ep := os.Getenv("DYNAMODB_ENDPOINT"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
}

func handle(ctx context.Context, req events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	tenant, _ := req.RequestContext.Authorizer["tenantId"].(string)
	// The group item's key, as pkg/store/keys.go writes it. The read is
	// strongly consistent, as get-group's is, so both read the same units.
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#" + tenant + "#G#" + req.PathParameters["groupId"]},
			"SK": &types.AttributeValueMemberS{Value: "#GROUP"},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	if out.Item == nil {
		return reply(http.StatusNotFound, map[string]string{"error": "group not found"})
	}
	var group map[string]any
	if err := attributevalue.UnmarshalMap(out.Item, &group); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return reply(http.StatusOK, group)
}

func reply(status int, body any) (events.APIGatewayProxyResponse, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(b),
	}, nil
}

func main() { lambda.Start(handle) }
