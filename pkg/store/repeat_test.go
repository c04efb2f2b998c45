package store_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// TestClientRequestToken pins what store.transact relies on, on the
// DynamoDB the tests run: a transaction repeated with the token of one
// that committed succeeds and writes nothing again; a transaction that was
// cancelled leaves its token free, so its repeat runs as new.
func TestClientRequestToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	k := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#tn#TEST"}, "SK": &types.AttributeValueMemberS{Value: "X"}}
	putAbsent := func(token string) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			ClientRequestToken: aws.String(token),
			TransactItems: []types.TransactWriteItem{{Put: &types.Put{
				TableName: aws.String(st.Table()), Item: k, ConditionExpression: aws.String("attribute_not_exists(PK)"),
			}}},
		})
		return err
	}
	var cancelled *types.TransactionCanceledException
	// DynamoDB keeps a token for 10 minutes whatever the table, so each
	// run has its own (go test -count=N reruns this on a new table).
	first, second := "first-"+store.RandomToken(8), "second-"+store.RandomToken(8)
	if err := putAbsent(first); err != nil {
		t.Fatalf("first put: %v", err)
	}
	if err := putAbsent(first); err != nil {
		t.Fatalf("the same put with the same token: %v, want success without a write", err)
	}
	if err := putAbsent(second); !errors.As(err, &cancelled) {
		t.Fatalf("the same put with a new token: %v, want a cancellation (the item exists)", err)
	}
	if _, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(st.Table()), Key: k}); err != nil {
		t.Fatal(err)
	}
	if err := putAbsent(second); err != nil {
		t.Fatalf("the cancelled token again, the item gone: %v, want the put to run as new", err)
	}
}

// TestRepeatedWritesApplyOnce loses the response of the first attempt of
// every DynamoDB call after DynamoDB executed it, so that the SDK repeats
// each write once it was applied; every write must still apply once and
// answer as if nothing had happened.
func TestRepeatedWritesApplyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clean, _ := storetest.NewStore(t)
	faults := storetest.LoseFirstResponses()
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"), faults.Middleware)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(db, clean.Table())
	const tn = "tn1"
	v1 := groups.Item{Type: groups.Vehicles, ID: "v1"}

	g, err := st.CreateGroup(ctx, tn, groups.NewGroup{Name: "Fleet", Members: []groups.Item{v1}})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	u1 := groups.Item{Type: groups.Users, ID: "u1"}
	if _, created, err := st.AddMember(ctx, tn, g.ID, u1); err != nil || !created {
		t.Fatalf("add member: created %v, %v; want created", created, err)
	}
	if err := st.RemoveMember(ctx, tn, g.ID, v1); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	desc := "repeated"
	if g, err = st.UpdateGroup(ctx, tn, g.ID, groups.GroupPatch{Description: &desc}, store.AnyVersion); err != nil || g.Version != 4 {
		t.Fatalf("describe: version %d, %v; want 4", g.Version, err)
	}
	if g, err = st.UpdateGroup(ctx, tn, g.ID, groups.GroupPatch{Description: &desc}, store.AtVersion(4)); err != nil || g.Version != 5 {
		t.Fatalf("describe with If-Match: version %d, %v; want 5", g.Version, err)
	}
	name := "Fleet 2"
	if g, err = st.UpdateGroup(ctx, tn, g.ID, groups.GroupPatch{Name: &name}, store.AtVersion(5)); err != nil || g.Version != 6 {
		t.Fatalf("rename: version %d, %v; want 6", g.Version, err)
	}
	out, err := st.ApplyMemberChanges(ctx, tn, g.ID, []groups.MemberChange{{Item: v1}, {Item: u1, Remove: true}})
	if err != nil || out[0] != groups.Added || out[1] != groups.Removed {
		t.Fatalf("batch: %v, %v; want added, removed", out, err)
	}
	for i, want := range []bool{true, false} {
		ri, created, err := st.PutRegisteredItem(ctx, tn, groups.RegisteredItem{Item: v1, Name: "Van"})
		if err != nil || created != want || ri.Version != i+1 {
			t.Fatalf("put item %d: created %v version %d, %v; want %v, %d", i, created, ri.Version, err, want, i+1)
		}
	}
	a, created, err := st.CreateAssociation(ctx, tn, "v1", "u1")
	if err != nil || !created {
		t.Fatalf("associate: created %v, %v", created, err)
	}
	if err := st.DeleteAssociation(ctx, tn, a); err != nil {
		t.Fatalf("dissociate: %v", err)
	}
	rec, claimed, err := st.ClaimIdempotencyKey(ctx, tn, "key", "fp", time.Minute)
	if err != nil || !claimed {
		t.Fatalf("claim: claimed %v, %v; want the key", claimed, err)
	}
	if err := st.ReleaseIdempotencyKey(ctx, tn, "key", rec); err != nil {
		t.Fatalf("release: %v", err)
	}
	if _, err := st.DeleteGroup(ctx, tn, g.ID, store.AtVersion(7)); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if n := faults.Counts()[storetest.LostResponse]; n < 15 {
		t.Fatalf("only %d responses lost", n)
	}
	storetest.CheckInvariants(t, clean)
}
