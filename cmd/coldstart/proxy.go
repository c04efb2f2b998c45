package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// countingProxy stands between the functions and DynamoDB Local. It
// terminates TLS with a certificate made at start (the functions trust it
// through SSL_CERT_FILE), so that a function's first request pays a TLS
// handshake as it does against DynamoDB on Lambda, and it counts the
// requests by operation (X-Amz-Target) and the connections opened, which
// the harness takes after each phase of a run.
type countingProxy struct {
	URL      string // https://127.0.0.1:port, the functions' DYNAMODB_ENDPOINT
	CertFile string // the certificate, PEM, for SSL_CERT_FILE

	srv *http.Server

	mu          sync.Mutex
	requests    map[string]int
	connections int
}

// traffic is what went through the proxy during one phase.
type traffic struct {
	Requests    map[string]int `json:"requests"`    // by DynamoDB operation
	Connections int            `json:"connections"` // new ones, each a TLS handshake
}

// startCountingProxy forwards to upstream (DynamoDB Local's plain HTTP
// endpoint), writing its certificate to dir.
func startCountingProxy(upstream, dir string) (*countingProxy, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	cert, certPEM, err := selfSignedCert()
	if err != nil {
		return nil, err
	}
	certFile := filepath.Join(dir, "proxy-cert.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &countingProxy{URL: "https://" + ln.Addr().String(), CertFile: certFile, requests: map[string]int{}}
	forward := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	p.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.count(r)
			forward.ServeHTTP(w, r)
		}),
		// DynamoDB's endpoints speak HTTP/1.1 only: a client that opens
		// requests in parallel opens a connection (and a handshake) for each.
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}},
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: time.Minute,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				p.mu.Lock()
				p.connections++
				p.mu.Unlock()
			}
		},
	}
	go func() { _ = p.srv.ServeTLS(ln, "", "") }()
	return p, nil
}

func (p *countingProxy) count(r *http.Request) {
	// "DynamoDB_20120810.GetItem" → "GetItem"
	target := r.Header.Get("X-Amz-Target")
	if _, op, ok := strings.Cut(target, "."); ok {
		target = op
	}
	p.mu.Lock()
	p.requests[target]++
	p.mu.Unlock()
}

// Take returns the traffic since the last Take and starts counting anew.
func (p *countingProxy) Take() traffic {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := traffic{Requests: p.requests, Connections: p.connections}
	p.requests, p.connections = map[string]int{}, 0
	return t
}

// Close stops the proxy and drops its connections.
func (p *countingProxy) Close() error { return p.srv.Close() }

// selfSignedCert is a certificate for 127.0.0.1 and localhost that is its
// own root, valid for a day.
func selfSignedCert() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fleetgroups bench-coldstart DynamoDB proxy"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM, nil
}
