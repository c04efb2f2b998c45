// Package standardwebhooks checks a delivery as its receiver would: the
// Standard Webhooks verification, written from the specification apart
// from pkg/webhooks' signing, so that the tests of one against the other
// can fail, and so that cmd/webhook-receiver shows a partner what its own
// check should do.
package standardwebhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Tolerance is how far a delivery's timestamp may be from the receiver's
// clock (the Standard Webhooks libraries' default), against replays.
const Tolerance = 5 * time.Minute

// Verify says why the delivery (its headers and raw body) does not verify
// under secret at now, or nil if it does: the secret's key is the base64
// after "whsec_"; the signed content is "<webhook-id>.<webhook-timestamp>.
// <body>"; webhook-signature holds space-separated "v1,<base64
// HMAC-SHA256>" signatures, of which one must match; the timestamp must be
// within Tolerance of now.
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return errors.New("the secret is not whsec_ and base64")
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" {
		return errors.New("no webhook-id")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not seconds since the epoch", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return fmt.Errorf("webhook-timestamp is %v away from now", d.Round(time.Second))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, b64, ok := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature in webhook-signature matches")
}
