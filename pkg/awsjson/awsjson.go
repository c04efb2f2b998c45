// Package awsjson calls AWS services that speak the AWS JSON protocol
// (EventBridge, SQS), signed with the SDK's SigV4 signer. The functions that
// make these few calls would otherwise link a whole SDK client each (the
// eventbridge client alone adds 590 KB, with SigV4a), against the binary
// size target of issue 7.
package awsjson

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Client calls one service in one region.
type Client struct {
	// Service is the signing name ("events", "sqs").
	Service string
	// Protocol is the JSON protocol's version: "1.0" (SQS) or "1.1"
	// (EventBridge).
	Protocol    string
	Region      string
	Credentials aws.CredentialsProvider
	// Endpoint is the service's (Endpoint(Service, Region)); tests point
	// it at a server of their own.
	Endpoint string
	HTTP     *http.Client
}

// NewClient is the client of service's public endpoint in region.
func NewClient(service, protocol, region string, creds aws.CredentialsProvider, hc *http.Client) *Client {
	return &Client{Service: service, Protocol: protocol, Region: region, Credentials: creds, Endpoint: Endpoint(service, region), HTTP: hc}
}

// Endpoint is service's public endpoint in region.
func Endpoint(service, region string) string {
	return "https://" + service + "." + region + ".amazonaws.com/"
}

// Error is a call the service refused.
type Error struct {
	Target string
	Status int
	// Type is the service's error type (its __type, without the
	// namespace), when it named one.
	Type string
	Body string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s answered %d: %.300s", e.Target, e.Status, e.Body)
}

// Call makes one call of target ("AWSEvents.PutEvents") with in as its
// JSON body, decoding the answer into out (which may be nil).
func (c *Client) Call(ctx context.Context, target string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-"+c.Protocol)
	req.Header.Set("X-Amz-Target", target)
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.Service, c.Region, time.Now()); err != nil {
		return err
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Type string `json:"__type"`
		}
		_ = json.Unmarshal(raw, &e)
		if i := bytes.LastIndexByte([]byte(e.Type), '#'); i >= 0 {
			e.Type = e.Type[i+1:]
		}
		return &Error{Target: target, Status: res.StatusCode, Type: e.Type, Body: string(raw)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s answered %.300s: %w", target, raw, err)
	}
	return nil
}

// Resend sends entries with send, then again those send reports failed (or
// all of them, when the call itself failed), at most attempts calls in all,
// waiting 50 ms longer before each: batch calls such as PutEvents and
// SendMessageBatch fail entries one by one. It returns the last error, with
// how many entries it could not send.
func Resend[E any](ctx context.Context, attempts int, entries []E, send func(context.Context, []E) (failed []E, err error)) error {
	for attempt := 1; ; attempt++ {
		failed, err := send(ctx, entries)
		if err == nil && len(failed) == 0 {
			return nil
		}
		if attempt == attempts {
			return fmt.Errorf("%d of %d entries failed after %d attempts: %w", len(failed), len(entries), attempt, err)
		}
		if len(failed) > 0 {
			entries = failed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
	}
}
