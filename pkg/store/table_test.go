package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// TestPingsStayWithinTheirGrants: each function's warm-up reads an item its
// grant reaches. deliver-webhooks may read only the webhook partitions
// (store.WebhookLeadingKeys), where the schema item Ping reads is not.
func TestPingsStayWithinTheirGrants(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	var mu sync.Mutex
	var read []string
	pinger := storetest.ReopenSeeing(t, st, func(params any) {
		if get, ok := params.(*dynamodb.GetItemInput); ok {
			mu.Lock()
			read = append(read, get.Key[store.AttrPK].(*types.AttributeValueMemberS).Value)
			mu.Unlock()
		}
	})
	inWebhookGrant := func(pk string) bool {
		return slices.ContainsFunc(store.WebhookLeadingKeys, func(p string) bool { return iamLike(p, pk) })
	}
	cases := []struct {
		name           string
		ping           func(context.Context) error
		inWebhookGrant bool
	}{
		{"Ping", pinger.Ping, false},
		{"PingWebhooks", pinger.PingWebhooks, true},
	}
	for _, c := range cases {
		read = nil
		if err := c.ping(context.Background()); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(read) != 1 {
			t.Fatalf("%s read %v, want one GetItem", c.name, read)
		}
		if got := inWebhookGrant(read[0]); got != c.inWebhookGrant {
			t.Errorf("%s reads %s: within deliver-webhooks' grant %v, want %v", c.name, read[0], got, c.inWebhookGrant)
		}
	}
}

// TestDeleteTableTwice: dropping a table already gone succeeds, as a
// DeleteTable made again after its answer was lost must.
func TestDeleteTableTwice(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	for i := range 2 {
		if err := st.DeleteTable(context.Background()); err != nil {
			t.Fatalf("DeleteTable #%d: %v", i+1, err)
		}
	}
	if err := st.Ping(context.Background()); err == nil {
		t.Fatal("the table still answers after DeleteTable")
	}
}
