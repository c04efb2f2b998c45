package api

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// A cursor is the position after a page's last item, sealed with AES-256-GCM
// under the deployment's current cursor key (and named by its id, so that
// keys can be rotated without breaking the cursors in circulation): clients can neither read it (it holds
// table keys) nor forge or alter it. It names the tenant and the list it
// belongs to, so it cannot be replayed elsewhere.
type cursorPayload struct {
	Tenant string            `json:"t"`
	List   string            `json:"l"`
	After  map[string]string `json:"a"`
}

// cursorSealer seals and opens cursors. The keys are read from the store on
// first use and kept; a cursor sealed with a key this process does not know
// yet (another instance read the keys after a rotation) makes it read them
// again, at most once per cursorKeyReload.
type cursorSealer struct {
	load     func(context.Context) (store.CursorKeys, error)
	mu       sync.Mutex
	current  int // the id of the key that seals
	aeads    map[int]cipher.AEAD
	reloaded time.Time // when a cursor of an unknown key last made it read the keys
}

// cursorKeyReload bounds how often cursors of unknown keys make a process
// read the keys again.
const cursorKeyReload = 10 * time.Second

// keys returns the sealing key's id and every key by id, read if need be
// (again, with reload, when a cursor named an unknown key).
func (c *cursorSealer) keys(ctx context.Context, reload bool) (int, map[int]cipher.AEAD, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aeads != nil && (!reload || time.Since(c.reloaded) < cursorKeyReload) {
		return c.current, c.aeads, nil
	}
	if reload {
		c.reloaded = time.Now()
	}
	ks, err := c.load(ctx)
	if err != nil {
		return 0, nil, err
	}
	aeads := map[int]cipher.AEAD{}
	for _, k := range append([]store.CursorKey{ks.Current}, ks.Retired...) {
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return 0, nil, err
		}
		// The random-nonce form seals the same bytes as NewGCM with a
		// random nonce put first (12 bytes, then ciphertext and tag), but
		// does not link NewGCM's generic fallback for other ciphers (about
		// 4 KB of code).
		if aeads[k.ID], err = cipher.NewGCMWithRandomNonce(block); err != nil {
			return 0, nil, err
		}
	}
	c.current, c.aeads = ks.Current.ID, aeads
	return c.current, c.aeads, nil
}

// seal seals p with the current key: "<key id>.<sealed>", or for key 0
// (the table's first) the sealed bytes alone, as cursors were before keys
// could rotate.
func (c *cursorSealer) seal(ctx context.Context, p cursorPayload) (string, error) {
	id, aeads, err := c.keys(ctx, false)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	sealed := base64.RawURLEncoding.EncodeToString(aeads[id].Seal(nil, nil, plain, nil))
	if id == 0 {
		return sealed, nil
	}
	return strconv.Itoa(id) + "." + sealed, nil
}

var errInvalidCursor = &groups.Error{Code: groups.CodeInvalidCursor, Detail: "the cursor is not valid: pass next_cursor from the previous page unchanged",
	Fields: []groups.FieldError{{Field: "cursor", Message: "is not a cursor this list issued"}}}

// open returns the position a cursor holds. A cursor that does not decrypt is
// invalid (400), as is one from another list of the same tenant; another
// tenant's cursor is not found (404), like anything else of another tenant.
func (c *cursorSealer) open(ctx context.Context, cursor, tenant, list string) (map[string]string, error) {
	id, body := 0, cursor
	if prefix, rest, ok := strings.Cut(cursor, "."); ok {
		n, err := strconv.Atoi(prefix)
		if err != nil || n < 1 || strconv.Itoa(n) != prefix {
			return nil, errInvalidCursor
		}
		id, body = n, rest
	}
	_, aeads, err := c.keys(ctx, false)
	if err != nil {
		return nil, err
	}
	aead, ok := aeads[id]
	if !ok {
		// Sealed after a rotation this process has not seen, or with a key
		// retired too long ago.
		if _, aeads, err = c.keys(ctx, true); err != nil {
			return nil, err
		}
		if aead, ok = aeads[id]; !ok {
			return nil, errInvalidCursor
		}
	}
	// Strict: a cursor's last character carries unused bits, and lenient
	// decoding would accept every spelling of them, so that a changed cursor
	// still opened.
	sealed, err := base64.RawURLEncoding.Strict().DecodeString(body)
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
