package model_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

var (
	faultRate = flag.Float64("model.faultrate", 0.1, "share of DynamoDB attempts TestModelFaults fails")
	stormRate = flag.Float64("model.stormrate", 0.4, "share of DynamoDB attempts TestModelFaults fails in its storm phase")
)

// Test-only request headers: the id under which the gateway wrapper keeps
// the request's fault log, and a switch that turns faults off for a request
// that reads the truth back.
const (
	headerTestID = "X-Test-Id"
	headerFaults = "X-Test-Faults"
)

// faultEnv is the API over a DynamoDB client that injects faults.
type faultEnv struct {
	*env
	faults *storetest.Faults
	logs   sync.Map // X-Test-Id → *storetest.FaultLog
	ids    atomic.Int64
	// unavailable counts the 429 and 503 answers; repeats, the requests
	// sent again after one.
	unavailable atomic.Int64
}

func newFaultEnv(t *testing.T, st *store.Store, seed uint64) *faultEnv {
	t.Helper()
	fe := &faultEnv{faults: storetest.NewFaults(seed, *faultRate)}
	// Every function, the authorizer and the metering included, goes
	// through the faulty client.
	fe.env = newEnv(t, storetest.WithFaults(t, st, fe.faults), func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, log := storetest.WithFaultLog(r.Context())
			fe.logs.Store(r.Header.Get(headerTestID), log)
			if r.Header.Get(headerFaults) == "off" {
				ctx = storetest.WithoutFaults(ctx)
			}
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	})
	return fe
}

// maxRepeats bounds how often a client repeats a request answered 429 or
// 503. At a 10% fault rate and 5 attempts per DynamoDB call one repeat is
// rare; in a storm the SDK's retry quota runs out, each call then has one
// attempt, and an operation of many calls (delete-item) may need dozens of
// repeats. A thousand in a row mean it cannot succeed.
const maxRepeats = 1000

// send sends a step as a careful client does: a 429 or 503 must carry
// Retry-After, and the client repeats the request until it gets another
// answer. repeat is true when an earlier attempt may have been applied: a
// repeat after a 503, or a lost response inside an operation that is not
// atomic by design (the model accepts either state there, or the
// converged one). Every other answer must be exactly the model's: the
// SDK's retries after a lost response must not apply a write twice.
func (fe *faultEnv) send(w *world, s step) (response, bool, error) {
	repeat := false
	for n := 0; ; n++ {
		id := strconv.FormatInt(fe.ids.Add(1), 10)
		res, err := fe.do(context.Background(), w.tokenOf(s), s.method, s.path, s.body, headerTestID, id)
		if err != nil {
			return res, repeat, err
		}
		logged, _ := fe.logs.LoadAndDelete(id)
		if res.status != http.StatusTooManyRequests && res.status != http.StatusServiceUnavailable {
			lost := logged != nil && logged.(*storetest.FaultLog).Has(storetest.LostResponse)
			return res, repeat || s.nonAtomic && lost, nil
		}
		fe.unavailable.Add(1)
		if res.header.Get("Retry-After") == "" {
			return res, repeat, fmt.Errorf("%d without Retry-After; body %s", res.status, res.raw)
		}
		if n == maxRepeats {
			return res, repeat, fmt.Errorf("still %d after %d repeats; body %s", res.status, n, res.raw)
		}
		repeat = repeat || s.method != "GET"
	}
}

// adoptGroup finds, with faults off, the group a create answered 503 had
// made, and adds it to the model.
func (fe *faultEnv) adoptGroup(w *world) func(ti int, parent, name string, members []groups.Item, attrs map[string]string) error {
	return func(ti int, parent, name string, members []groups.Item, attrs map[string]string) error {
		res, err := fe.do(context.Background(), w.t[ti].token, "GET", "/v1/groups?search="+url.QueryEscape(name), "", headerFaults, "off")
		if err != nil {
			return err
		}
		for i := range res.list("items") {
			if res.str("items", i, "name") == name && res.num("items", i, "version") == 1 && res.num("items", i, "memberCount") == len(members) {
				w.addGroup(ti, res.str("items", i, "id"), parent, name, members, attrs)
				return nil
			}
		}
		return fmt.Errorf("409 after a 503, and no group %q with %d members at version 1: %s", name, len(members), res.raw)
	}
}

// TestModelFaults runs the model's sequences (a fifth as many as
// TestModel), then a few at storm rate, then the concurrent workload, while
// -model.faultrate (10%) of all DynamoDB attempts fail with throttling,
// transaction conflicts, 500s, timeouts or lost responses
// (storetest.Faults). Every answer must be the model's, or 429/503 with
// Retry-After, after which the client repeats the request until it gets
// another answer (the model then accepts the state before or after, and
// for delete-item the converged one). At 10% a 503 is rare (a call fails
// all 5 attempts, or the SDK's retry quota runs out); the storm rate
// (-model.stormrate, 40%) makes them common, so that the repeats are
// proven too. Finally, with faults off, the table's invariants must hold.
func TestModelFaults(t *testing.T) {
	t.Parallel()
	st := newModelStore(t)
	seed := seeds(t)
	fe := newFaultEnv(t, st, seed)
	phases := []struct {
		name string
		rate float64
		seqs int
	}{
		{"seq", *faultRate, max(*seqsFlag/10, 1)},
		{"storm", *stormRate, max(*seqsFlag/50, 1)},
	}
	for _, ph := range phases {
		fe.faults.SetRate(ph.rate)
		before, unavailable := fe.faults.Counts(), fe.unavailable.Load()
		start := time.Now()
		t.Run(ph.name, func(t *testing.T) {
			for i := range ph.seqs {
				s := seed + uint64(i)
				t.Run(strconv.FormatUint(s, 10), func(t *testing.T) {
					t.Parallel()
					runSequence(t, fe.env, s, *stepsFlag, func(w *world, s step) (response, bool, error) {
						if w.adoptGroup == nil {
							w.adoptGroup = fe.adoptGroup(w)
						}
						return fe.send(w, s)
					})
				})
			}
		})
		injected := fe.faults.Counts()
		for k, n := range before {
			injected[k] -= n
		}
		t.Logf("%s: %d sequences × %d steps at fault rate %.2f in %v: injected %v; answered 429/503 (and repeated) %d times",
			ph.name, ph.seqs, *stepsFlag, ph.rate, time.Since(start).Round(time.Millisecond), injected, fe.unavailable.Load()-unavailable)
	}
	fe.faults.SetRate(*faultRate)
	const workers = 8
	runConcurrent(t, fe.env, seed, workers, max(*seqsFlag**stepsFlag/50/workers, 10), fe.send)
	fe.faults.SetRate(0)
	storetest.CheckInvariants(t, st)
	t.Logf("in all: injected %v; answered 429/503 (and repeated) %d times", fe.faults.Counts(), fe.unavailable.Load())
}
