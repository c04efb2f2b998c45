// Package xray sends each AWS SDK call of a traced Lambda invocation to
// X-Ray as a subsegment of the function's segment (issue 10 §3), so that a
// trace shows every DynamoDB request with its operation, table, duration
// and outcome.
//
// It writes the X-Ray daemon's UDP protocol itself: Lambda runs the daemon
// next to every function with active tracing (AWS_XRAY_DAEMON_ADDRESS) and
// passes each invocation's trace header (Root, Parent, Sampled), which
// aws-lambda-go puts in the invocation's context. The X-Ray SDK for Go or
// OpenTelemetry's exporter would add hundreds of kilobytes to every
// function for these few lines of JSON (against issue 7's size target).
package xray

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net"
	"reflect"
	"strings"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// EnvDaemonAddress names the daemon's address, which Lambda sets when the
// function has active tracing.
const EnvDaemonAddress = "AWS_XRAY_DAEMON_ADDRESS"

// traceContextKey is where aws-lambda-go keeps the invocation's trace
// header in its context (and _X_AMZN_TRACE_ID in the environment).
const traceContextKey = "x-amzn-trace-id"

// Header is an invocation's trace header.
type Header struct {
	Root    string // the trace id: 1-<8 hex>-<24 hex>
	Parent  string // the function segment's id
	Sampled bool
}

// ParseHeader reads "Root=…;Parent=…;Sampled=1".
func ParseHeader(s string) Header {
	var h Header
	for part := range strings.SplitSeq(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Root":
			h.Root = v
		case "Parent":
			h.Parent = v
		case "Sampled":
			h.Sampled = v == "1"
		}
	}
	return h
}

// FromContext is the trace header of the invocation ctx belongs to.
func FromContext(ctx context.Context) Header {
	s, _ := ctx.Value(traceContextKey).(string)
	return ParseHeader(s)
}

// Emitter sends subsegments to a daemon.
type Emitter struct {
	addr string
	once sync.Once
	conn net.Conn
	err  error
}

// NewEmitter sends to the daemon at addr (host:port).
func NewEmitter(addr string) *Emitter { return &Emitter{addr: addr} }

// Middleware adds to an SDK client's stack the step that sends each call
// of a sampled invocation as a subsegment; calls outside one (init, tests)
// send nothing.
func (e *Emitter) Middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("XRaySubsegment",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			h := FromContext(ctx)
			if !h.Sampled || h.Root == "" || h.Parent == "" {
				return next.HandleInitialize(ctx, in)
			}
			start := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			e.send(subsegmentOf(ctx, h, in.Parameters, start, time.Now(), md, err))
			return out, md, err
		}), middleware.After)
}

// subsegment is an X-Ray subsegment document, sent apart from its segment.
type subsegment struct {
	Name      string    `json:"name"`
	ID        string    `json:"id"`
	TraceID   string    `json:"trace_id"`
	ParentID  string    `json:"parent_id"`
	Type      string    `json:"type"`
	StartTime float64   `json:"start_time"`
	EndTime   float64   `json:"end_time"`
	Namespace string    `json:"namespace"`
	Error     bool      `json:"error,omitempty"`
	Fault     bool      `json:"fault,omitempty"`
	Throttle  bool      `json:"throttle,omitempty"`
	AWS       awsFields `json:"aws"`
	HTTP      *httpData `json:"http,omitempty"`
	Cause     *cause    `json:"cause,omitempty"`
}

type awsFields struct {
	Operation string `json:"operation"`
	Region    string `json:"region,omitempty"`
	TableName string `json:"table_name,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

type httpData struct {
	Response struct {
		Status int `json:"status"`
	} `json:"response"`
}

type cause struct {
	Exceptions []exception `json:"exceptions"`
}

type exception struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

func subsegmentOf(ctx context.Context, h Header, params any, start, end time.Time, md middleware.Metadata, err error) subsegment {
	s := subsegment{Name: awsmiddleware.GetServiceID(ctx), ID: newID(), TraceID: h.Root, ParentID: h.Parent, Type: "subsegment",
		StartTime: seconds(start), EndTime: seconds(end), Namespace: "aws",
		AWS: awsFields{Operation: awsmiddleware.GetOperationName(ctx), Region: awsmiddleware.GetRegion(ctx), TableName: tableName(params)}}
	s.AWS.RequestID, _ = awsmiddleware.GetRequestIDMetadata(md)
	if res, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		s.HTTP = &httpData{}
		s.HTTP.Response.Status = res.StatusCode
		s.Throttle = res.StatusCode == 429 || res.StatusCode == 400 && err != nil && strings.Contains(err.Error(), "Throttl")
		s.Fault = res.StatusCode >= 500
	}
	if err != nil {
		s.Error = !s.Fault
		s.Cause = &cause{Exceptions: []exception{{ID: newID(), Message: err.Error()}}}
	}
	return s
}

// tableName is the TableName of a DynamoDB input, "" for others.
func tableName(params any) string {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	if f := v.Elem().FieldByName("TableName"); f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.String {
		return f.Elem().String()
	}
	return ""
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// newID is a segment id: 16 hex digits.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// daemonHeader starts every datagram the daemon reads.
const daemonHeader = `{"format": "json", "version": 1}` + "\n"

// send writes one subsegment to the daemon. Tracing never fails a call: a
// daemon that is not there loses the subsegment, no more.
func (e *Emitter) send(s subsegment) {
	e.once.Do(func() { e.conn, e.err = net.Dial("udp", e.addr) })
	if e.err != nil {
		return
	}
	doc, err := json.Marshal(s)
	if err != nil {
		return
	}
	_, _ = e.conn.Write(append([]byte(daemonHeader), doc...))
}
