package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/latency"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// subject is one function as a round runs it.
type subject struct {
	Name   string // as Lambda names it: the operation, or "baseline"
	Binary string
	// Event is the n-th invocation's event of a round (0: the first).
	Event func(n int) []byte
	// Env is the deployment's settings of this function beyond those
	// every function has (lambdaEnv).
	Env []string
}

// round is what one fresh process of a function did: its init, its first
// invocation and warm ones.
type round struct {
	InitMs     float64 `json:"init_ms"`     // exec → first /next
	InitCPUMs  float64 `json:"init_cpu_ms"` // CPU time up to the first /next
	FirstMs    float64 `json:"first_invocation_ms"`
	WarmP50Ms  float64 `json:"warm_p50_ms"`
	WarmP99Ms  float64 `json:"warm_p99_ms"`
	WarmCPUMs  float64 `json:"warm_cpu_ms_per_call"` // CPU time per warm call
	PeakRSSMiB float64 `json:"peak_rss_mib"`         // VmHWM at the end
	// DynamoDB traffic during init, the first invocation and all warm ones.
	Init  traffic `json:"init_dynamodb"`
	First traffic `json:"first_dynamodb"`
	Warm  traffic `json:"warm_dynamodb"`
	// Statuses counts the answers by HTTP status (or authorizer effect).
	Statuses map[string]int `json:"statuses"`
}

// roundSettings are what every round of a run shares.
type roundSettings struct {
	Table    string
	TaskRoot string
	Warm     int // warm invocations after the first
	MemoryMB int
	Timeout  time.Duration // the function's: each invocation's deadline
	Proxy    *countingProxy
	CPU      cpuModel
}

// hangMargin is how long past an invocation's deadline (or, for init,
// past the timeout) the harness waits before it calls the process hung.
// It is a guard against hangs, not a measurement.
const hangMargin = 30 * time.Second

// runRound starts a fresh process of s and measures it. Any error the
// function reports (init error, /error, a 5xx answer) or an exit fails it.
func runRound(ctx context.Context, s subject, set roundSettings) (r round, err error) {
	rt, err := startRuntimeAPI(s.Name, set.Timeout)
	if err != nil {
		return r, err
	}
	defer func() { _ = rt.Close() }()
	set.Proxy.Take() // nothing from before this process counts
	env := append(lambdaEnv(s.Name, rt.Addr, set.TaskRoot, set.Table, set.MemoryMB, set.Proxy), s.Env...)
	p, err := startProcess(s.Binary, env, set.CPU)
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, p.Kill()) }()
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w\n--- its output (end) ---\n%s", s.Name, err, p.Output())
		}
	}()
	limit := set.Timeout + hangMargin

	awaitNext := func() error {
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		return rt.AwaitNext(ctx, p.Exited)
	}
	r.Statuses = map[string]int{}
	invoke := func(n int) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		start := time.Now()
		res, err := rt.Invoke(ctx, s.Event(n), p.Exited)
		took := time.Since(start)
		if err == nil {
			err = res.Err
		}
		if err == nil {
			var status string
			status, err = answerStatus(s.Name, res.Body)
			r.Statuses[status]++
		}
		if err != nil {
			return 0, fmt.Errorf("invocation %d: %w", n, err)
		}
		// The invocation ends when the process polls again: what it does
		// after answering (and before) is its own.
		return took, awaitNext()
	}

	if err := awaitNext(); err != nil {
		return r, fmt.Errorf("init: %w", err)
	}
	r.InitMs = ms(time.Since(p.Started))
	initCPU, err := p.CPU()
	if err != nil {
		return r, err
	}
	r.InitCPUMs = ms(initCPU)
	r.Init = set.Proxy.Take()
	if err := p.EndInit(); err != nil {
		return r, err
	}

	first, err := invoke(0)
	if err != nil {
		return r, err
	}
	r.FirstMs = ms(first)
	r.First = set.Proxy.Take()
	warmStartCPU, err := p.CPU()
	if err != nil {
		return r, err
	}

	warm := make([]time.Duration, set.Warm)
	for i := range warm {
		if warm[i], err = invoke(i + 1); err != nil {
			return r, err
		}
	}
	r.Warm = set.Proxy.Take()
	endCPU, err := p.CPU()
	if err != nil {
		return r, err
	}
	if set.Warm > 0 {
		slices.Sort(warm)
		r.WarmP50Ms = ms(latency.Quantile(warm, 0.50))
		r.WarmP99Ms = ms(latency.Quantile(warm, 0.99))
		r.WarmCPUMs = ms(endCPU-warmStartCPU) / float64(set.Warm)
	}
	rss, err := p.PeakRSS()
	if err != nil {
		return r, err
	}
	r.PeakRSSMiB = float64(rss) / (1 << 20)
	return r, nil
}

// answerStatus is the HTTP status of a proxy integration's answer, the
// effect of an authorizer's policy, for publish-changes, whose handler
// returns nothing but its error, "published" for its null answer, and for
// deliver-webhooks "delivered" or "retried" (the batch item failures it
// reports). A 5xx status is an error: the function failed.
func answerStatus(name string, body []byte) (string, error) {
	switch name {
	case string(routes.PublishChanges):
		if string(bytes.TrimSpace(body)) != "null" {
			return "", fmt.Errorf("publish-changes answered %.200s, want null", body)
		}
		return "published", nil
	case string(routes.DeliverWebhooks):
		var a map[string]json.RawMessage
		var failures []struct{ ItemIdentifier string }
		err := json.Unmarshal(body, &a)
		if raw, ok := a["batchItemFailures"]; err == nil && ok {
			err = json.Unmarshal(raw, &failures)
		} else if err == nil {
			err = errors.New("no batchItemFailures")
		}
		if err != nil {
			return "", fmt.Errorf("deliver-webhooks answered %.200s, want its batch item failures: %w", body, err)
		}
		if len(failures) > 0 {
			return "retried", nil
		}
		return "delivered", nil
	}
	var a struct {
		StatusCode     *int `json:"statusCode"`
		PolicyDocument *struct {
			Statement []struct{ Effect string } `json:"Statement"`
		} `json:"policyDocument"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return "", fmt.Errorf("the answer is not JSON: %w: %.200s", err, body)
	}
	switch {
	case a.StatusCode != nil && *a.StatusCode >= 500:
		return "", fmt.Errorf("the function answered %d: %.500s", *a.StatusCode, body)
	case a.StatusCode != nil:
		return strconv.Itoa(*a.StatusCode), nil
	case a.PolicyDocument != nil && len(a.PolicyDocument.Statement) > 0:
		return "policy " + a.PolicyDocument.Statement[0].Effect, nil
	default:
		return "", fmt.Errorf("the answer is neither a proxy response nor a policy: %.200s", body)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
