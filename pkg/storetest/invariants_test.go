package storetest_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// TestViolations breaks a consistent table one item at a time and expects
// the scan to name each break: the invariants can fail.
func TestViolations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g, err := st.CreateGroup(ctx, "tn1", groups.NewGroup{Name: "Fleet", Members: []groups.Item{{Type: groups.Vehicles, ID: "v1"}, {Type: groups.Users, ID: "u1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateAssociation(ctx, "tn1", "v1", "u1"); err != nil {
		t.Fatal(err)
	}
	if v, err := storetest.Violations(ctx, st); err != nil || len(v) > 0 {
		t.Fatalf("consistent table: %v, %v", v, err)
	}
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	// deleteOne deletes the first item whose kind (and SK prefix) match.
	deleteOne := func(kind, skPrefix string) {
		t.Helper()
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(st.Table())})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			k, _ := it["kind"].(*types.AttributeValueMemberS)
			sk := it["SK"].(*types.AttributeValueMemberS).Value
			if k != nil && k.Value == kind && strings.HasPrefix(sk, skPrefix) {
				_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(st.Table()),
					Key: map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]}})
				if err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatalf("no %s item", kind)
	}
	expect := func(want string) {
		t.Helper()
		v, err := storetest.Violations(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(v, "\n"), want) {
			t.Fatalf("violations %q, want one naming %q", v, want)
		}
	}
	deleteOne("member", "M#vehicles#")
	expect("group " + g.ID + " counts 1 vehicles, holds 0")
	deleteOne("name", "")
	expect("group " + g.ID + " has 0 name guards")
	deleteOne("edge", "")
	expect("has 1 edges")
	deleteOne("group", "")
	expect("orphan membership users/u1")

	// A mark left by a move that is gone holds the group.
	other, err := st.CreateGroup(ctx, "tn2", groups.NewGroup{Name: "Held"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(st.Table()),
		Key:              map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#tn2#G#" + other.ID}, "SK": &types.AttributeValueMemberS{Value: "#GROUP"}},
		UpdateExpression: aws.String("SET moving = :m"), ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: "tn2#gone"}}})
	if err != nil {
		t.Fatal(err)
	}
	expect("group " + other.ID + " is held by a move")
}
