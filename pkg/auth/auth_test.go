package auth

import (
	"strings"
	"testing"
)

func TestTokenRoundTrip(t *testing.T) {
	tenant, token := NewCredentials("", "Acme")
	id, ok := TenantOf(token)
	if !ok || id != tenant.ID || !ValidTenantID(id) || len(tenant.APIKey) < 20 {
		t.Fatalf("token %q names %q (%v); tenant %+v", token, id, ok, tenant)
	}
	if named, _ := NewCredentials("acme", "Acme"); named.ID != "acme" {
		t.Fatalf("given id ignored: %+v", named)
	}
	if HashToken(token) == HashToken(NewToken(tenant.ID)) {
		t.Fatal("two tokens of one tenant hash alike")
	}
	if len(HashToken(token)) != 64 || strings.Contains(HashToken(token), token) {
		t.Fatal("hash is not a hex SHA-256")
	}
}

func TestTenantOf(t *testing.T) {
	cases := []struct {
		token, tenant string
		ok            bool
	}{
		{"fg_tn_abc.secret", "tn_abc", true},
		{"fg_tn_abc.", "", false},
		{"fg_tn_abc", "", false},
		{"tn_abc.secret", "", false},
		{"fg_TN_ABC.secret", "", false},
		{"fg_tn#x.secret", "", false},
		{"fg_.secret", "", false},
	}
	for _, c := range cases {
		id, ok := TenantOf(c.token)
		if ok != c.ok || id != c.tenant {
			t.Errorf("TenantOf(%q) = %q, %v; want %q, %v", c.token, id, ok, c.tenant, c.ok)
		}
	}
}

func TestBearerToken(t *testing.T) {
	cases := []struct {
		headers map[string][]string
		token   string
		ok      bool
	}{
		{map[string][]string{"Authorization": {"Bearer abc"}}, "abc", true},
		{map[string][]string{"authorization": {"bearer  abc "}}, "abc", true},
		{map[string][]string{"Authorization": {"Basic abc"}}, "", false},
		{map[string][]string{"Authorization": {"Bearer"}}, "", false},
		{map[string][]string{}, "", false},
		{map[string][]string{"Authorization": {"Bearer abc", "Bearer def"}}, "", false},
		{map[string][]string{"Authorization": {"Bearer abc", "Bearer abc"}}, "", false},
		{map[string][]string{"authorization": {"Bearer abc"}, "Authorization": {"Bearer def"}}, "", false},
	}
	for _, c := range cases {
		token, ok := bearerToken(c.headers)
		if ok != c.ok || (ok && token != c.token) {
			t.Errorf("bearerToken(%v) = %q, %v", c.headers, token, ok)
		}
	}
}

func TestWholeAPI(t *testing.T) {
	got := wholeAPI("arn:aws:execute-api:eu-central-1:123456789012:abc123/live/GET/v1/groups/g1")
	if want := "arn:aws:execute-api:eu-central-1:123456789012:abc123/live/*/*"; got != want {
		t.Fatalf("wholeAPI = %s, want %s", got, want)
	}
}
