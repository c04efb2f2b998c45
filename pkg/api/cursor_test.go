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
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

func testSealer(t testing.TB) *cursorSealer {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return oneKeySealer(key)
}

// oneKeySealer seals with key, the table's first (id 0).
func oneKeySealer(key []byte) *cursorSealer {
	return &cursorSealer{load: func(context.Context) (store.CursorKeys, error) {
		return store.CursorKeys{Current: store.CursorKey{ID: 0, Secret: key}}, nil
	}}
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
	c := oneKeySealer(key)
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

// TestCursorKeyRotation: after a rotation new cursors name the new key;
// cursors of the retired key, and of the first key (which carry no key
// id), still open, also in a process that read the keys before the
// rotation (it reads them again on a key it does not know); a key id no
// key has, or a malformed one, is invalid_cursor.
func TestCursorKeyRotation(t *testing.T) {
	ctx := context.Background()
	first, second := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(first)
	_, _ = rand.Read(second)
	keys := store.CursorKeys{Current: store.CursorKey{ID: 0, Secret: first}}
	load := func(context.Context) (store.CursorKeys, error) { return keys, nil }
	before, after := &cursorSealer{load: load}, &cursorSealer{load: load}
	pos := map[string]string{"SK": "F#1"}
	old := mustSealAt(t, before, pos)
	if strings.Contains(old, ".") {
		t.Fatalf("a cursor of the first key names it: %s", old)
	}
	keys = store.CursorKeys{Current: store.CursorKey{ID: 1, Secret: second}, Retired: []store.CursorKey{{ID: 0, Secret: first}}}
	fresh := mustSealAt(t, after, pos)
	if !strings.HasPrefix(fresh, "1.") {
		t.Fatalf("a cursor of key 1: %s", fresh)
	}
	for _, c := range []struct {
		name   string
		sealer *cursorSealer
		cursor string
		code   groups.Code
	}{
		{"old cursor, new process", after, old, ""},
		{"new cursor, old process", before, fresh, ""},
		{"unknown key", after, "7." + fresh[2:], groups.CodeInvalidCursor},
		{"key id 0 spelt out", after, "0." + old, groups.CodeInvalidCursor},
		{"key id with a sign", after, "+1." + fresh[2:], groups.CodeInvalidCursor},
		{"empty key id", after, "." + fresh[2:], groups.CodeInvalidCursor},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.sealer.open(ctx, c.cursor, "tn_a", "l")
			if groups.CodeOf(err) != c.code || c.code == "" && !maps.Equal(got, pos) {
				t.Fatalf("open = %v, %v; want code %q", got, err, c.code)
			}
		})
	}
	// The first key retired beyond CursorKeyRetention: its cursors are
	// invalid from the next reload on.
	keys = store.CursorKeys{Current: store.CursorKey{ID: 2, Secret: second}}
	renewed := &cursorSealer{load: load}
	if _, err := renewed.open(ctx, old, "tn_a", "l"); groups.CodeOf(err) != groups.CodeInvalidCursor {
		t.Fatalf("a cursor of a dropped key: %v", err)
	}
}

func mustSealAt(t *testing.T, c *cursorSealer, pos map[string]string) string {
	t.Helper()
	s, err := c.seal(context.Background(), cursorPayload{Tenant: "tn_a", List: "l", After: pos})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
