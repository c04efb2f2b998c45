package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The Lambda Runtime API, as a function's bootstrap sees it at
// AWS_LAMBDA_RUNTIME_API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const (
	runtimePrefix     = "/2018-06-01/runtime/"
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
	// A response whose body fails while streaming carries the error in
	// these trailers (aws-lambda-go sends them) instead of an /error call.
	trailerErrorType = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody = "Lambda-Runtime-Function-Error-Body"
)

// runtimeAPI serves the Runtime API to one function process at a time: the
// process polls /next, and the harness hands it one invocation there with
// Invoke and gets its /response or /error back. It holds no queue: Invoke
// waits for the process to be polling, which is what marks the end of init
// (AwaitNext) and of each invocation.
type runtimeAPI struct {
	Addr        string // host:port, the value of AWS_LAMBDA_RUNTIME_API
	functionARN string
	timeout     time.Duration // the function's timeout: each invocation's deadline

	srv      *http.Server
	polls    chan struct{}     // a /next is waiting for an invocation
	pending  chan *invocation  // handed to the waiting /next
	initErrs chan invokeResult // /init/error, at most one per process

	mu       sync.Mutex
	inFlight map[string]*invocation // by request id, until it is answered
}

type invocation struct {
	id       string
	event    []byte
	deadline time.Time
	result   chan invokeResult // buffered: the answer never waits for a reader
}

// invokeResult is what the function answered: Body on /response, or Err
// (the error type and body of /error, /init/error or a failed response
// stream).
type invokeResult struct {
	Body []byte
	Err  error
}

// functionError is an error the function reported through the Runtime API.
type functionError struct {
	Path string // the endpoint it was reported to
	Type string // Lambda-Runtime-Function-Error-Type
	Body string // the error document (errorMessage, errorType, …)
}

func (e *functionError) Error() string {
	return fmt.Sprintf("function reported %s (%s): %s", e.Path, e.Type, e.Body)
}

// startRuntimeAPI listens on a free local port for functionName's process.
func startRuntimeAPI(functionName string, timeout time.Duration) (*runtimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rt := &runtimeAPI{
		Addr:        ln.Addr().String(),
		functionARN: "arn:aws:lambda:" + region + ":" + accountID + ":function:" + functionName,
		timeout:     timeout,
		polls:       make(chan struct{}),
		pending:     make(chan *invocation),
		initErrs:    make(chan invokeResult, 1),
		inFlight:    map[string]*invocation{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+runtimePrefix+"invocation/next", rt.next)
	mux.HandleFunc("POST "+runtimePrefix+"invocation/{id}/response", rt.respond)
	mux.HandleFunc("POST "+runtimePrefix+"invocation/{id}/error", rt.fail)
	mux.HandleFunc("POST "+runtimePrefix+"init/error", rt.initError)
	rt.srv = &http.Server{Handler: mux, ReadHeaderTimeout: time.Minute}
	go func() { _ = rt.srv.Serve(ln) }()
	return rt, nil
}

// Close stops serving; a /next still waiting is cut off.
func (rt *runtimeAPI) Close() error { return rt.srv.Close() }

// AwaitNext returns when the process polls /next, ready for an invocation.
// It fails if the process reports an init error, exits (exited is closed)
// or ctx ends first.
func (rt *runtimeAPI) AwaitNext(ctx context.Context, exited <-chan struct{}) error {
	select {
	case <-rt.polls:
		return nil
	case r := <-rt.initErrs:
		return r.Err
	case <-exited:
		// A runtime whose init fails reports it, then exits.
		select {
		case r := <-rt.initErrs:
			return r.Err
		default:
			return errors.New("the process exited instead of polling /next")
		}
	case <-ctx.Done():
		return fmt.Errorf("no /next: %w", ctx.Err())
	}
}

// Invoke hands event to the process, which must be polling /next (see
// AwaitNext), and returns its answer. An answer through /error is an
// invokeResult with Err set; the error return is for a process that
// exits or does not answer before ctx ends.
func (rt *runtimeAPI) Invoke(ctx context.Context, event []byte, exited <-chan struct{}) (invokeResult, error) {
	inv := &invocation{
		id:       newRequestID(),
		event:    event,
		deadline: time.Now().Add(rt.timeout),
		result:   make(chan invokeResult, 1),
	}
	rt.mu.Lock()
	rt.inFlight[inv.id] = inv
	rt.mu.Unlock()
	defer func() {
		rt.mu.Lock()
		delete(rt.inFlight, inv.id)
		rt.mu.Unlock()
	}()
	select {
	case rt.pending <- inv:
	case <-exited:
		return invokeResult{}, errors.New("the process exited before taking the invocation")
	case <-ctx.Done():
		return invokeResult{}, fmt.Errorf("the invocation was not taken: %w", ctx.Err())
	}
	select {
	case r := <-inv.result:
		return r, nil
	case <-exited:
		// A runtime whose handler fails fatally reports it, then exits.
		select {
		case r := <-inv.result:
			return r, nil
		default:
			return invokeResult{}, errors.New("the process exited during the invocation")
		}
	case <-ctx.Done():
		return invokeResult{}, fmt.Errorf("no answer: %w", ctx.Err())
	}
}

func (rt *runtimeAPI) next(w http.ResponseWriter, r *http.Request) {
	select {
	case rt.polls <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	var inv *invocation
	select {
	case inv = <-rt.pending:
	case <-r.Context().Done():
		return
	}
	h := w.Header()
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadline, strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set(headerFunctionARN, rt.functionARN)
	h.Set(headerTraceID, newTraceID())
	h.Set("Content-Type", "application/json")
	_, _ = w.Write(inv.event)
}

func (rt *runtimeAPI) respond(w http.ResponseWriter, r *http.Request) {
	rt.answer(w, r, func(body []byte) invokeResult {
		// Trailers are read once the body has been read to its end.
		if t := r.Trailer.Get(trailerErrorType); t != "" {
			return invokeResult{Err: &functionError{Path: "response stream", Type: t, Body: r.Trailer.Get(trailerErrorBody)}}
		}
		return invokeResult{Body: body}
	})
}

func (rt *runtimeAPI) fail(w http.ResponseWriter, r *http.Request) {
	rt.answer(w, r, func(body []byte) invokeResult {
		return invokeResult{Err: &functionError{Path: "/error", Type: r.Header.Get(headerErrorType), Body: string(body)}}
	})
}

// answer completes the invocation named in the path with what result makes
// of the body; an unknown or already answered id is refused with 400, as
// Lambda refuses it.
func (rt *runtimeAPI) answer(w http.ResponseWriter, r *http.Request, result func([]byte) invokeResult) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, `{"errorMessage":"unreadable body"}`, http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	rt.mu.Lock()
	inv, ok := rt.inFlight[id]
	delete(rt.inFlight, id)
	rt.mu.Unlock()
	if !ok {
		http.Error(w, `{"errorMessage":"no invocation in flight with this id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
		return
	}
	inv.result <- result(body)
	accepted(w)
}

func (rt *runtimeAPI) initError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, `{"errorMessage":"unreadable body"}`, http.StatusBadRequest)
		return
	}
	select {
	case rt.initErrs <- invokeResult{Err: &functionError{Path: "/init/error", Type: r.Header.Get(headerErrorType), Body: string(body)}}:
	default: // a second report of the same failed init adds nothing
	}
	accepted(w)
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// newRequestID is a random UUID (version 4), as Lambda's request ids are.
func newRequestID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTraceID is an X-Ray trace header, not sampled, in the format Lambda
// passes on.
func newTraceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0",
		time.Now().Unix(), hex.EncodeToString(randomBytes(12)), hex.EncodeToString(randomBytes(8)))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
