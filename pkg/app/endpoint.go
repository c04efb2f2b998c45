package app

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// endpointCache remembers the endpoint the SDK's resolver gives for each
// set of endpoint parameters. Left to itself, the SDK runs its endpoint
// rules and parses a URL for every request, about 6 % of a warm
// get-group's CPU (BenchmarkLambdaHandlers under -cpuprofile), though a
// function's requests all have the same parameters: its region, its
// table, its credentials' account.
type endpointCache struct {
	next     dynamodb.EndpointResolverV2
	resolved sync.Map // endpointKey → smithyendpoints.Endpoint
	size     atomic.Int32
}

// maxCachedEndpoints bounds the cache; the batch and transaction requests
// name their table once per item, which makes a key for each count of
// items (up to 100), so more than this many keys means something else.
const maxCachedEndpoints = 512

// endpointKey is what of dynamodb.EndpointParameters the resolver reads,
// in a comparable form.
type endpointKey struct {
	region, endpoint, accountID, accountIDMode, resourceARN, resourceARNs string
	dualStack, fips                                                       bool
}

func (c *endpointCache) ResolveEndpoint(ctx context.Context, p dynamodb.EndpointParameters) (smithyendpoints.Endpoint, error) {
	k := endpointKey{
		region: aws.ToString(p.Region), endpoint: aws.ToString(p.Endpoint),
		accountID: aws.ToString(p.AccountId), accountIDMode: aws.ToString(p.AccountIdEndpointMode),
		resourceARN: aws.ToString(p.ResourceArn), resourceARNs: strings.Join(p.ResourceArnList, "\x00"),
		dualStack: aws.ToBool(p.UseDualStack), fips: aws.ToBool(p.UseFIPS),
	}
	if e, ok := c.resolved.Load(k); ok {
		return e.(smithyendpoints.Endpoint), nil
	}
	e, err := c.next.ResolveEndpoint(ctx, p)
	if err == nil && c.size.Add(1) <= maxCachedEndpoints {
		c.resolved.Store(k, e)
	}
	return e, err
}
