package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// connect opens table on DynamoDB Local (endpoint set, no API Gateway) or in
// AWS, where DynamoDB and API Gateway share one configuration so that the
// key and the tenant land in the same account and region. In AWS it loads
// the SDK's full default chain (profiles, SSO, roles), which an operator's
// machine needs and the Lambdas do without (see app.AWSConfig).
func connect(ctx context.Context, endpoint, table string) (*store.Store, keyRegistry, error) {
	if endpoint != "" {
		db, err := app.NewDynamoDB(endpoint)
		if err != nil {
			return nil, nil, fmt.Errorf("DynamoDB Local client: %w", err)
		}
		return store.New(db, table), nil, nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load the AWS configuration: %w", err)
	}
	// Without this check the first call fails with a less helpful message.
	if cfg.Region == "" {
		return nil, nil, errors.New("no AWS region: set AWS_REGION or use a profile that has one " +
			"(or set -endpoint to use DynamoDB Local)")
	}
	return store.New(app.NewDynamoDBFromConfig(cfg, ""), table), apiGatewayKeys{apigateway.NewFromConfig(cfg)}, nil
}

// apiGatewayKeys is the keyRegistry of a real API Gateway.
type apiGatewayKeys struct{ c *apigateway.Client }

func (k apiGatewayKeys) CreateKey(ctx context.Context, name, value, description string) (string, error) {
	out, err := k.c.CreateApiKey(ctx, &apigateway.CreateApiKeyInput{
		Name: aws.String(name), Value: aws.String(value), Description: aws.String(description), Enabled: true,
	})
	if err != nil {
		return "", err
	}
	if aws.ToString(out.Id) == "" {
		return "", errors.New("API Gateway returned no key id")
	}
	return *out.Id, nil
}

func (k apiGatewayKeys) AttachKey(ctx context.Context, planID, keyID string) error {
	_, err := k.c.CreateUsagePlanKey(ctx, &apigateway.CreateUsagePlanKeyInput{
		UsagePlanId: aws.String(planID), KeyId: aws.String(keyID), KeyType: aws.String("API_KEY"),
	})
	return err
}

func (k apiGatewayKeys) DeleteKey(ctx context.Context, keyID string) error {
	_, err := k.c.DeleteApiKey(ctx, &apigateway.DeleteApiKeyInput{ApiKey: aws.String(keyID)})
	return err
}
