// Package webhookstest checks deliveries as a receiver would.
package webhookstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Tolerance is how far a delivery's timestamp may be from the receiver's
// clock (the Standard Webhooks libraries' default).
const Tolerance = 5 * time.Minute

// Verify is the Standard Webhooks check, written from the specification
// apart from webhooks.Sign, so that a test of one against the other can
// fail: the secret's key is the base64 after "whsec_", the signed content
// is "<webhook-id>.<webhook-timestamp>.<body>", the header holds
// space-separated "v1,<base64 HMAC-SHA256>" signatures of which one must
// match, and the timestamp must be within Tolerance of now.
func Verify(secret string, h http.Header, body []byte, now time.Time) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, b64, ok := strings.Cut(sig, ",")
		got, err := base64.StdEncoding.DecodeString(b64)
		if ok && version == "v1" && err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}
