package app

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
)

// countingResolver is the SDK's resolver, counting what it resolves.
type countingResolver struct {
	sdk   dynamodb.EndpointResolverV2
	calls int
}

func (r *countingResolver) ResolveEndpoint(ctx context.Context, p dynamodb.EndpointParameters) (smithyendpoints.Endpoint, error) {
	r.calls++
	return r.sdk.ResolveEndpoint(ctx, p)
}

// TestEndpointCacheAnswersAsTheSDK: the cache gives what the SDK's rules
// give for each set of parameters, and runs them once per set.
func TestEndpointCacheAnswersAsTheSDK(t *testing.T) {
	params := func(region string, edit func(*dynamodb.EndpointParameters)) dynamodb.EndpointParameters {
		p := dynamodb.EndpointParameters{
			Region: aws.String(region), UseDualStack: aws.Bool(false), UseFIPS: aws.Bool(false),
			AccountIdEndpointMode: aws.String(string(aws.AccountIDEndpointModePreferred)), ResourceArn: aws.String("fleetgroups"),
		}
		if edit != nil {
			edit(&p)
		}
		return p
	}
	cases := []struct {
		name string
		p    dynamodb.EndpointParameters
		want string // "" for an error
	}{
		{"region", params("eu-west-1", nil), "https://dynamodb.eu-west-1.amazonaws.com"},
		{"another-region", params("us-east-1", nil), "https://dynamodb.us-east-1.amazonaws.com"},
		{"china", params("cn-north-1", nil), "https://dynamodb.cn-north-1.amazonaws.com.cn"},
		{"fips", params("us-east-1", func(p *dynamodb.EndpointParameters) { p.UseFIPS = aws.Bool(true) }), "https://dynamodb-fips.us-east-1.amazonaws.com"},
		{"dual-stack", params("eu-west-1", func(p *dynamodb.EndpointParameters) { p.UseDualStack = aws.Bool(true) }), "https://dynamodb.eu-west-1.api.aws"},
		{"account", params("eu-west-1", func(p *dynamodb.EndpointParameters) { p.AccountId = aws.String("111122223333") }), "https://111122223333.ddb.eu-west-1.amazonaws.com"},
		{"dynamodb-local", params("us-east-1", func(p *dynamodb.EndpointParameters) { p.Endpoint = aws.String("http://127.0.0.1:8000") }), "http://127.0.0.1:8000"},
		{"transaction", params("eu-west-1", func(p *dynamodb.EndpointParameters) {
			p.ResourceArn, p.ResourceArnList = nil, []string{"fleetgroups", "fleetgroups"}
		}), "https://dynamodb.eu-west-1.amazonaws.com"},
		{"no-region", params("", func(p *dynamodb.EndpointParameters) { p.Region = nil }), ""},
	}
	sdk := &countingResolver{sdk: dynamodb.NewDefaultEndpointResolverV2()}
	cache := &endpointCache{next: sdk}
	ctx := context.Background()
	for round := range 3 {
		for _, c := range cases {
			got, err := cache.ResolveEndpoint(ctx, c.p)
			switch {
			case c.want == "" && err == nil:
				t.Errorf("round %d, %s: %s, want an error", round, c.name, got.URI.String())
			case c.want != "" && (err != nil || got.URI.String() != c.want):
				t.Errorf("round %d, %s: %s, %v; want %s", round, c.name, got.URI.String(), err, c.want)
			}
		}
	}
	// An error is not kept: the SDK is asked again for it each round.
	if want := len(cases) - 1 + 3; sdk.calls != want {
		t.Errorf("the SDK resolved %d times for %d rounds of %d cases, want %d", sdk.calls, 3, len(cases), want)
	}
}

// TestEndpointCacheIsBounded: past maxCachedEndpoints parameter sets the
// cache keeps no more, and answers still.
func TestEndpointCacheIsBounded(t *testing.T) {
	sdk := &countingResolver{sdk: dynamodb.NewDefaultEndpointResolverV2()}
	cache := &endpointCache{next: sdk}
	ctx := context.Background()
	for i := range maxCachedEndpoints + 10 {
		p := dynamodb.EndpointParameters{Region: aws.String("eu-west-1"), ResourceArn: aws.String(fmt.Sprintf("t%d", i))}
		if _, err := cache.ResolveEndpoint(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	cache.resolved.Range(func(any, any) bool { kept++; return true })
	if kept != maxCachedEndpoints {
		t.Errorf("the cache keeps %d endpoints, want %d", kept, maxCachedEndpoints)
	}
}
