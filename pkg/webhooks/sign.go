// Package webhooks delivers the change feed's events to the partners'
// endpoints (issue 9 §4–6): signed as the Standard Webhooks specification
// says, retried with backoff from a queue (SQS in AWS, LocalQueue under
// make run), and only to addresses on the public internet.
package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret; the rest is the key in base64,
// as Standard Webhooks libraries expect.
const SecretPrefix = "whsec_"

// secretBytes is the key's length: 256 bits, HMAC-SHA256's block of output.
const secretBytes = 32

// NewSecret returns a fresh signing secret.
func NewSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// The headers of a delivery (Standard Webhooks).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Sign is the webhook-signature header of a message: "v1,<signature>" for
// each secret, separated by spaces, the signature being the base64
// HMAC-SHA256 of "<id>.<timestamp>.<body>" under the secret's key.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("a webhook has no signing secret")
	}
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
		if err != nil {
			return "", errors.New("a webhook's signing secret is not base64")
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
		mac.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(sigs, " "), nil
}
