package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Ping reads the table's schema item once, without retrying: the cheapest
// request that opens a connection to DynamoDB and proves it works (TLS,
// credentials, the table's name). Every function's grant allows it: the
// authorizer's GetItem has no key condition. The functions ping at init
// (pkg/app), so that their first request finds its connections open.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pkSystem, skSchema), ConsistentRead: aws.Bool(true)},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	return translate(err)
}

// PingWebhooks is Ping for deliver-webhooks, whose grant reaches only the
// tenants' webhook and delivery partitions (WebhookLeadingKeys), not the
// schema item: it reads the webhook count of the tenant "", which cannot
// exist (tenant ids are never empty), eventually consistent, for half a
// read unit.
func (s *Store) PingWebhooks(ctx context.Context) error {
	_, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(webhooksPK(""), skWebhookCount)},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	return translate(err)
}
