package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The account and region the Lambda environment names; nothing checks them.
const (
	region    = "us-east-1"
	accountID = "000000000000"
)

// lambdaEnv is the environment Lambda gives a provided.al2023 function
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html),
// with DynamoDB reached through the proxy. Nothing of the harness's own
// environment is passed on: a function finds no HOME, no ~/.aws and no
// profile, as on Lambda.
func lambdaEnv(name, runtimeAPI, taskRoot, table string, memoryMB int, proxy *countingProxy) []string {
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]" + newRequestID(),
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		// The execution role's temporary credentials; DynamoDB Local takes
		// any.
		"AWS_ACCESS_KEY_ID=ASIACOLDSTARTBENCH00",
		"AWS_SECRET_ACCESS_KEY=coldstart-bench-secret-access-key-000000",
		"AWS_SESSION_TOKEN=coldstart-bench-session-token",
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"LAMBDA_RUNTIME_DIR=" + taskRoot,
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LD_LIBRARY_PATH=/lib64:/usr/lib64:" + taskRoot + ":" + taskRoot + "/lib:/opt/lib",
		"TZ=:UTC",
		// The deployment's own settings (infra/stack.go).
		"TABLE_NAME=" + table,
		"LOG_LEVEL=info",
		"DYNAMODB_ENDPOINT=" + proxy.URL,
		"SSL_CERT_FILE=" + proxy.CertFile,
	}
}

// process is one function process, a fresh one per round, as Lambda starts
// one per execution environment.
type process struct {
	cmd     *exec.Cmd
	Started time.Time
	Exited  chan struct{} // closed when the process has exited
	output  *tailBuffer
	cgroup  *cgroup // its own under the lambda CPU model, nil under host
}

// startProcess runs binary with env, its output kept for a failure report,
// in a cgroup of its own if cpu says so.
func startProcess(binary string, env []string, cpu cpuModel) (*process, error) {
	p := &process{cmd: exec.Command(binary), Exited: make(chan struct{}), output: &tailBuffer{max: 16 << 10}}
	p.cmd.Env = env
	p.cmd.Dir = filepath.Dir(binary)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.Exited)
	}()
	var err error
	if p.cgroup, err = cpu.place(p.cmd.Process.Pid); err != nil {
		return nil, errors.Join(err, p.Kill())
	}
	return p, nil
}

// EndInit gives the process, from now on, the CPU that the model gives an
// invocation. Call it when the process first polls /next, before handing
// it an invocation.
func (p *process) EndInit() error {
	if p.cgroup == nil {
		return nil
	}
	return p.cgroup.throttle()
}

// Kill ends the process, as Lambda ends an environment it no longer needs,
// and removes its cgroup.
func (p *process) Kill() error {
	_ = p.cmd.Process.Kill()
	<-p.Exited
	if p.cgroup == nil {
		return nil
	}
	return p.cgroup.remove()
}

// Output is the end of what the process wrote to stdout and stderr.
func (p *process) Output() string { return p.output.String() }

// CPU is the CPU time the process has used so far: the sum of its
// threads' time on CPU (/proc/<pid>/task/*/schedstat, in nanoseconds),
// precise where /proc/<pid>/stat counts in 10 ms ticks. Call it while the
// process waits (in /next), so that the figure is not a moving one.
func (p *process) CPU() (time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", p.cmd.Process.Pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no /proc/%d/task/*/schedstat: the harness runs on Linux only", p.cmd.Process.Pid)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			return 0, err
		}
		onCPU, _, _ := strings.Cut(string(b), " ")
		ns, err := strconv.ParseInt(onCPU, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", t, err)
		}
		total += time.Duration(ns)
	}
	return total, nil
}

// PeakRSS is the process's peak resident set size in bytes (VmHWM).
func (p *process) PeakRSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", p.cmd.Process.Pid)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
