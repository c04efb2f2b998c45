package gateway

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
)

// Serve runs h on ln until ctx ends, then shuts down gracefully. The
// requests net/http refuses before any handler runs (a malformed or missing
// Host, a bad request line or path, an invalid header) are answered with a
// 400 problem document too, not net/http's plain text.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(problemListener{ln}) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}

// problemListener hands net/http connections that rewrite its own 400s.
type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return problemConn{c}, nil
}

// problemConn passes every write unchanged but one: the 400 net/http writes
// by itself when it cannot read a request, which it writes in one piece,
// straight to the connection, before closing it, and which no http.Handler
// can intercept (http.Server has no option for it).
type problemConn struct{ net.Conn }

// net/http's own error answers have exactly these headers after the status
// line. A handler's answer cannot look alike: net/http always writes its
// Date header before the blank line.
const (
	badRequestLine   = "HTTP/1.1 400 Bad Request"
	badRequestHeader = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
)

func (c problemConn) Write(b []byte) (int, error) {
	head, _, found := bytes.Cut(b, []byte(badRequestHeader))
	reason, isBadRequest := bytes.CutPrefix(head, []byte(badRequestLine))
	if !found || !isBadRequest || bytes.Contains(reason, []byte("\r\n")) {
		return c.Conn.Write(b)
	}
	// net/http names the fault after a colon ("malformed Host header"); its
	// words, never the client's.
	detail := "the request could not be read"
	if r, ok := bytes.CutPrefix(reason, []byte(": ")); ok {
		detail += ": " + string(r)
	}
	if _, err := c.Conn.Write(badRequest(detail)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// badRequest is a whole HTTP/1.1 answer: a 400 bad_request problem, with
// the headers of every answer of the gateway's own.
func badRequest(detail string) []byte {
	requestID := api.NewRequestID()
	body := problem.For(groups.Errorf(groups.CodeBadRequest, "%s", detail), requestID).JSON()
	res := &http.Response{
		StatusCode: http.StatusBadRequest, ProtoMajor: 1, ProtoMinor: 1, Close: true,
		Header: http.Header{}, ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body)),
	}
	res.Header.Set("Content-Type", problem.MediaType)
	res.Header.Set("X-Request-Id", requestID)
	for k, v := range problem.CommonHeaders() {
		res.Header.Set(k, v)
	}
	var out bytes.Buffer
	_ = res.Write(&out) // writing to a buffer cannot fail
	return out.Bytes()
}
