package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/client"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// TestClient: the generated client and its layer against the local API:
// typed answers, problems as *client.Error with their code, a list walked
// page by page, a cascade delete repeated until done.
func TestClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	api, err := client.New(e.srv.URL, e.tokenA, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := api.CreateGroupWithResponse(ctx, &client.CreateGroupParams{}, client.CreateGroupJSONRequestBody{Name: "Region"})
	if err != nil || r.JSON201 == nil || r.JSON201.Name != "Region" {
		t.Fatalf("create: %v, %s", err, r.Body)
	}
	region := r.JSON201.Id
	want := []string{region}
	for i := range 4 {
		parent := region
		c, err := api.CreateGroupWithResponse(ctx, &client.CreateGroupParams{}, client.CreateGroupJSONRequestBody{Name: fmt.Sprintf("Depot %d", i), ParentId: &parent})
		if err != nil || c.JSON201 == nil {
			t.Fatalf("create: %v, %s", err, c.Body)
		}
		want = append(want, c.JSON201.Id)
	}
	dup, err := api.CreateGroupWithResponse(ctx, &client.CreateGroupParams{}, client.CreateGroupJSONRequestBody{Name: "region"})
	var cerr *client.Error
	if err != nil || !errors.As(client.Check(dup.StatusCode(), dup.Body), &cerr) || cerr.Code != string(groups.CodeNameTaken) || dup.ApplicationproblemJSON409 == nil {
		t.Fatalf("a taken name: %v, %s", err, dup.Body)
	}
	limit := 2
	var got []string
	for g, err := range api.Groups(ctx, client.ListGroupsParams{Limit: &limit}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, g.Id)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	cascade := client.DeleteGroupParamsCascade("true")
	del, err := client.UntilDone(ctx, func(ctx context.Context) (*client.DeleteGroupResponse, error) {
		return api.DeleteGroupWithResponse(ctx, region, &client.DeleteGroupParams{Cascade: &cascade})
	})
	if err != nil || del.JSON200 == nil {
		t.Fatalf("delete: %v, %s", err, del.Body)
	}
	for _, err := range api.Groups(ctx, client.ListGroupsParams{}) {
		t.Fatalf("a group is left (%v)", err)
	}
}
