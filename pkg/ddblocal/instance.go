package ddblocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	readyTimeout = 60 * time.Second
	pollInterval = 100 * time.Millisecond
	bindAttempts = 3
	stopTimeout  = 10 * time.Second
	outputLimit  = 64 << 10
)

// jvmFlags keep each emulator small and quick to start, because every tested
// package starts its own and they run side by side on small CI machines.
var jvmFlags = []string{
	"-Xms64m", "-Xmx512m",
	// Fewer threads and less memory than the default G1 for a small heap.
	"-XX:+UseSerialGC",
	// C1 only: start-up time, not peak throughput, dominates a test run
	// (about 2 s instead of 3 s to the first answer).
	"-XX:TieredStopAtLevel=1",
	// No hsperfdata files left in the temp dir.
	"-XX:-UsePerfData",
}

// errBind means the JVM could not listen on the chosen port. DynamoDB Local
// does not exit in that case (only its main thread dies), so it is detected
// from the output and answered with a new port.
var errBind = errors.New("port already in use")

// Instance is a DynamoDB Local process started by [Start]. It keeps its data
// in memory only, so every instance starts empty.
type Instance struct {
	// Endpoint is the base URL to give to DynamoDB clients, for example
	// http://127.0.0.1:40123.
	Endpoint string

	port    int
	cmd     *exec.Cmd
	out     *outputBuffer
	scratch string
	done    chan struct{} // closed once the process has been reaped
	waitErr error         // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start fetches DynamoDB Local if needed (see [Ensure]) and starts a private,
// in-memory instance of it on a free port. ctx bounds the start-up
// only; the instance runs until [Instance.Stop]. Start returns once the
// emulator answers a ListTables call.
//
// The emulator runs with -sharedDb, so all clients see the same tables
// whatever access key and region they use: code under test and test helpers
// often configure credentials differently, and without it they would
// silently talk to separate databases.
//
// DynamoDB Local listens on all interfaces and has no option to restrict
// that; the returned endpoint uses loopback.
func Start(ctx context.Context) (*Instance, error) {
	dir, err := Ensure(ctx)
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("ddblocal: DynamoDB Local needs a Java 17+ runtime, but java was not found on PATH: %w (or run DynamoDB Local yourself and set %s)", err, EndpointEnv)
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	var lastErr error
	for range bindAttempts {
		// The port is free now but may be taken again before the JVM binds
		// it (the JVM needs about a second to get there); errBind covers it.
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("ddblocal: find a free port: %w", err)
		}
		inst, err := launch(java, dir, port)
		if err != nil {
			return nil, err
		}
		err = inst.waitReady(ctx)
		if err == nil {
			return inst, nil
		}
		_ = inst.Stop()
		lastErr = fmt.Errorf("ddblocal: start DynamoDB Local on port %d: %w\n--- DynamoDB Local output ---\n%s", port, err, inst.Output())
		if !errors.Is(err, errBind) {
			break
		}
	}
	return nil, lastErr
}

func freePort() (int, error) {
	// Loopback only: binding all interfaces from a test binary makes the
	// macOS firewall ask for permission on every build.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch(java, dir string, port int) (*Instance, error) {
	// DynamoDB Local writes dynamodb-local-metadata.json into its working
	// directory on every start; a private one keeps concurrent instances
	// from writing into the shared cache at the same time.
	scratch, err := os.MkdirTemp("", "ddblocal-")
	if err != nil {
		return nil, fmt.Errorf("ddblocal: %w", err)
	}
	args := append(append([]string(nil), jvmFlags...),
		"-Djava.library.path="+filepath.Join(dir, libDirName),
		"-jar", filepath.Join(dir, jarName),
		"-inMemory", "-sharedDb", "-disableTelemetry",
		"-port", strconv.Itoa(port))
	// Not CommandContext: the caller's ctx bounds the start-up, not the
	// lifetime of the emulator.
	cmd := exec.Command(java, args...)
	cmd.Dir = scratch
	out := &outputBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 2 * time.Second

	inst := &Instance{
		Endpoint: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		port:     port,
		cmd:      cmd,
		out:      out,
		scratch:  scratch,
		done:     make(chan struct{}),
	}
	started := make(chan error, 1)
	go func() {
		// On Linux the JVM gets SIGKILL when the thread that started it
		// exits (Pdeathsig), so that a test binary that dies or times out
		// does not leave emulators behind. Go may retire idle threads, so
		// the starting thread is pinned to this goroutine, which lives
		// exactly as long as the JVM.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		inst.waitErr = cmd.Wait()
		close(inst.done)
	}()
	if err := <-started; err != nil {
		os.RemoveAll(scratch)
		return nil, fmt.Errorf("ddblocal: run %s: %w", java, err)
	}
	live.add(inst)
	return inst, nil
}

// live tracks running instances so that an interrupted test binary can stop
// them all (see stopOnSignal), not only the one RunTests started.
var live = &registry{m: map[*Instance]struct{}{}}

type registry struct {
	mu sync.Mutex
	m  map[*Instance]struct{}
}

func (r *registry) add(i *Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[i] = struct{}{}
}

func (r *registry) remove(i *Instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, i)
}

func (r *registry) stopAll() {
	r.mu.Lock()
	all := make([]*Instance, 0, len(r.m))
	for i := range r.m {
		all = append(all, i)
	}
	r.mu.Unlock()
	for _, i := range all {
		_ = i.Stop()
	}
}

func (i *Instance) waitReady(ctx context.Context) error {
	client := &http.Client{
		Timeout: 2 * time.Second,
		// No proxy, and no pooled connections left behind after Stop.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var probeErr error
	for {
		if bindFailed(i.out.String()) {
			return errBind
		}
		if probeErr = probe(ctx, client, i.Endpoint); probeErr == nil {
			// A 200 proves that some DynamoDB answers on the port, not that
			// it is ours: another instance may have grabbed the port first.
			// Where the platform can tell, insist on our process listening.
			owned, err := listensOn(i.cmd.Process.Pid, i.port)
			if err != nil || owned {
				return nil
			}
			probeErr = errors.New("another process answers on this port")
		}
		select {
		case <-i.done:
			if bindFailed(i.out.String()) {
				return errBind
			}
			return fmt.Errorf("DynamoDB Local exited before it was ready: %v", i.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready (last probe: %v): %w", probeErr, ctx.Err())
		case <-tick.C:
		}
	}
}

func bindFailed(output string) bool {
	return strings.Contains(output, "BindException") || strings.Contains(output, "Failed to bind")
}

// probe makes a cheap ListTables call with plain HTTP, which is enough to
// know the emulator is serving and keeps this package free of the SDK.
func probe(ctx context.Context, client *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
	// DynamoDB Local does not check signatures but rejects requests that
	// lack a well-formed one.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=ddblocal/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("TableNames")) {
		return fmt.Errorf("ListTables: %s: %s", resp.Status, body)
	}
	return nil
}

// Stop kills the emulator and waits for it to exit; its data is gone. It is
// safe to call more than once. It reports an error if the emulator had
// already died on its own, since whatever used it then probably failed for
// that reason.
func (i *Instance) Stop() error {
	i.stopOnce.Do(func() {
		defer live.remove(i)
		defer os.RemoveAll(i.scratch)
		select {
		case <-i.done:
			i.stopErr = fmt.Errorf("ddblocal: DynamoDB Local at %s had already exited: %v\n%s", i.Endpoint, i.waitErr, i.Output())
			return
		default:
		}
		// SIGKILL rather than a graceful stop: the data is in memory only,
		// so there is nothing to flush and no reason to wait.
		if err := killTree(i.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
			i.stopErr = fmt.Errorf("ddblocal: stop DynamoDB Local at %s: %w", i.Endpoint, err)
			return
		}
		select {
		case <-i.done:
		case <-time.After(stopTimeout):
			i.stopErr = fmt.Errorf("ddblocal: DynamoDB Local at %s did not exit within %v of SIGKILL", i.Endpoint, stopTimeout)
		}
	})
	return i.stopErr
}

// Output returns what the emulator printed so far (the first 64 KiB), for
// diagnosing failures.
func (i *Instance) Output() string {
	return i.out.String()
}

// outputBuffer keeps the beginning of the output, where start-up problems
// show, and stays bounded however long the emulator runs. It is written by
// exec's copying goroutines while waitReady reads it.
type outputBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(len(p), outputLimit-b.buf.Len())
	b.buf.Write(p[:keep])
	b.dropped += len(p) - keep
	return len(p), nil
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("%s\n[%d more bytes not kept]", b.buf.String(), b.dropped)
	}
	return b.buf.String()
}
