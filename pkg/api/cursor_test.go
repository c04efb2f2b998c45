package api

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

func testSealer(t testing.TB) *cursorSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &cursorSealer{load: func(context.Context) ([]byte, error) { return key, nil }}
}

func TestCursorRoundTripAndBinding(t *testing.T) {
	ctx := context.Background()
	c := testSealer(t)
	after := map[string]string{"PK": "T#tn_a#G#g1", "SK": "M#vehicles#v1"}
	sealed, err := c.seal(ctx, cursorPayload{Tenant: "tn_a", List: "members:g1:", After: after})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cursor, tenant, list string
		code                       groups.Code
	}{
		{"same-tenant-same-list", sealed, "tn_a", "members:g1:", ""},
		{"other-tenant-404", sealed, "tn_b", "members:g1:", groups.CodeNotFound},
		{"other-list-400", sealed, "tn_a", "members:g2:", groups.CodeInvalidCursor},
		{"not-base64-400", "***", "tn_a", "members:g1:", groups.CodeInvalidCursor},
		{"flipped-bit-400", sealed[:len(sealed)-2] + flip(sealed[len(sealed)-2]) + sealed[len(sealed)-1:], "tn_a", "members:g1:", groups.CodeInvalidCursor},
		{"other-key-400", mustSeal(t, testSealer(t), "tn_a", "members:g1:"), "tn_a", "members:g1:", groups.CodeInvalidCursor},
		{"unused-bits-set-400", slackBits(t, sealed), "tn_a", "members:g1:", groups.CodeInvalidCursor},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.open(ctx, tc.cursor, tc.tenant, tc.list)
			if groups.CodeOf(err) != tc.code {
				t.Fatalf("open = %v, want code %q", err, tc.code)
			}
			if tc.code == "" && got["SK"] != after["SK"] {
				t.Fatalf("position = %v", got)
			}
		})
	}
}

// slackBits spells a cursor's bytes otherwise: with one of the unused low
// bits of its last character set (FuzzOpenCursor found these accepted).
func slackBits(t *testing.T, cursor string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(cursor)%4 == 0 {
		t.Fatalf("cursor %q has no unused bits", cursor)
	}
	last := strings.IndexByte(alphabet, cursor[len(cursor)-1])
	return cursor[:len(cursor)-1] + string(alphabet[last^1])
}

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

func mustSeal(t testing.TB, c *cursorSealer, tenant, list string) string {
	s, err := c.seal(context.Background(), cursorPayload{Tenant: tenant, List: list, After: map[string]string{"PK": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func BenchmarkCursorSealOpen(b *testing.B) {
	ctx := context.Background()
	c := testSealer(b)
	p := cursorPayload{Tenant: "tn_abcdefghij", List: "members:grp_x:vehicles", After: map[string]string{
		"PK": "T#tn_abcdefghij#G#grp_abcdefghijklmnopqrstuvwxyz", "SK": "M#vehicles#veh-000123"}}
	for b.Loop() {
		s, err := c.seal(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.open(ctx, s, p.Tenant, p.List); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCursorFormatIsNonceFirstGCM: a cursor is a random 12-byte nonce, then
// the AES-256-GCM ciphertext and tag, so cursors sealed with cipher.NewGCM
// and an explicit nonce (as before the random-nonce form) still open, and
// new ones open that way.
func TestCursorFormatIsNonceFirstGCM(t *testing.T) {
	ctx := context.Background()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c := &cursorSealer{load: func(context.Context) ([]byte, error) { return key, nil }}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	after := map[string]string{"PK": "T#tn_a#G#g1", "SK": "M#vehicles#v1"}
	plain, _ := json.Marshal(cursorPayload{Tenant: "tn_a", List: "members:g1:", After: after})
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	old := base64.RawURLEncoding.EncodeToString(gcm.Seal(nonce, nonce, plain, nil))
	if got, err := c.open(ctx, old, "tn_a", "members:g1:"); err != nil || !maps.Equal(got, after) {
		t.Fatalf("a nonce-first GCM cursor opens as %v, %v; want %v", got, err, after)
	}
	sealed, err := c.seal(ctx, cursorPayload{Tenant: "tn_a", List: "members:g1:", After: after})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	opened, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
	if err != nil || string(opened) != string(plain) {
		t.Fatalf("a new cursor opened with NewGCM = %s, %v; want %s", opened, err, plain)
	}
}
