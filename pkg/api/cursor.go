package api

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"sync"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// A cursor is the position after a page's last item, sealed with AES-256-GCM
// under the deployment's cursor key: clients can neither read it (it holds
// table keys) nor forge or alter it. It names the tenant and the list it
// belongs to, so it cannot be replayed elsewhere.
type cursorPayload struct {
	Tenant string            `json:"t"`
	List   string            `json:"l"`
	After  map[string]string `json:"a"`
}

// cursorSealer seals and opens cursors; the key is read from the store on
// first use and kept for the life of the process.
type cursorSealer struct {
	load func(context.Context) ([]byte, error)
	mu   sync.Mutex
	aead cipher.AEAD
}

func (c *cursorSealer) cipher(ctx context.Context) (cipher.AEAD, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aead != nil {
		return c.aead, nil
	}
	key, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	// The random-nonce form seals the same bytes as NewGCM with a random
	// nonce put first (12 bytes, then ciphertext and tag), but does not link
	// NewGCM's generic fallback for other ciphers (about 4 KB of code).
	if c.aead, err = cipher.NewGCMWithRandomNonce(block); err != nil {
		return nil, err
	}
	return c.aead, nil
}

func (c *cursorSealer) seal(ctx context.Context, p cursorPayload) (string, error) {
	aead, err := c.cipher(ctx)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nil, nil, plain, nil)), nil
}

var errInvalidCursor = &groups.Error{Code: groups.CodeInvalidCursor, Detail: "the cursor is not valid: pass next_cursor from the previous page unchanged",
	Fields: []groups.FieldError{{Field: "cursor", Message: "is not a cursor this list issued"}}}

// open returns the position a cursor holds. A cursor that does not decrypt is
// invalid (400), as is one from another list of the same tenant; another
// tenant's cursor is not found (404), like anything else of another tenant.
func (c *cursorSealer) open(ctx context.Context, cursor, tenant, list string) (map[string]string, error) {
	aead, err := c.cipher(ctx)
	if err != nil {
		return nil, err
	}
	// Strict: a cursor's last character carries unused bits, and lenient
	// decoding would accept every spelling of them, so that a changed cursor
	// still opened.
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(cursor)
	if err != nil {
		return nil, errInvalidCursor
	}
	plain, err := aead.Open(nil, nil, sealed, nil)
	if err != nil {
		return nil, errInvalidCursor
	}
	var p cursorPayload
	if err := json.Unmarshal(plain, &p); err != nil || len(p.After) == 0 {
		return nil, errInvalidCursor
	}
	if p.Tenant != tenant {
		return nil, groups.ErrNotFound
	}
	if p.List != list {
		return nil, errInvalidCursor
	}
	return p.After, nil
}
