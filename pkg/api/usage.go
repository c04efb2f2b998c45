package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Usage metering. Every call that reaches an operation with an authenticated
// tenant is counted, failed ones (4xx and 5xx) included: they cost capacity
// like the others, and API Gateway's quota counts them as well, so the
// numbers stay comparable with the usage plan's. Calls API Gateway refuses by
// itself (no valid token, throttled, over quota, no such route) never reach a
// function and are not counted.
//
// A Lambda cannot work after it has returned, so the count cannot be made
// after the response. It starts instead in a goroutine as the request
// starts, its one UpdateItem (store.CountCall) overlapping the operation's
// own DynamoDB requests, and the response waits for it only when its
// headers are written. The count has the request's own time, up to
// meterReserve before the request's deadline (which Lambda, and the local
// gateway, set), and no timeout of its own that a busy machine could
// outlast. A count that fails or runs out of time does not fail the call:
// it is logged, and the response goes out without the usage headers.

// The response headers with the tenant's calls including this one: all of
// them, and those of the current UTC day (the usage plan's quota period).
const (
	HeaderUsage      = "X-Api-Usage"
	HeaderDailyUsage = "X-Api-Daily-Usage"
)

// meterReserve is the part of the request's time that the count leaves
// to the rest of the response (routes.AnswerReserveSeconds), so that a
// count that never answers still lets the response out (and get-usage
// read the counters instead) before the deadline.
const meterReserve = routes.AnswerReserveSeconds * time.Second

// WithMeter counts calls through m instead of the API's store, so that tests
// can tell the metering requests from the operations' own.
func WithMeter(m *store.Store) Option { return func(a *API) { a.meter = m } }

// WithLimits sets the usage plan limits that get-usage reports.
func WithLimits(l Limits) Option { return func(a *API) { a.limits = l } }

// Limits are the usage plan's limits per tenant. API Gateway enforces them;
// the functions learn them from their environment only to report them.
type Limits struct {
	RateLimit   float64 // requests per second, sustained
	BurstLimit  float64 // requests at once
	QuotaPerDay float64 // requests per UTC day
}

// DefaultLimits are the usage plan's defaults (pkg/routes).
func DefaultLimits() Limits {
	return Limits{RateLimit: routes.DefaultRateLimit, BurstLimit: routes.DefaultBurstLimit, QuotaPerDay: routes.DefaultQuotaPerDay}
}

// meteredCall is the count of one call, under way until done is closed.
type meteredCall struct {
	done  chan struct{}
	usage groups.Usage
	err   error
}

func (c *meteredCall) wait() (groups.Usage, error) {
	<-c.done
	return c.usage, c.err
}

type meteredCallKey struct{}

// startMetering starts counting the call when it has a tenant to count it
// for. It returns the writer that puts the count in the response headers,
// the request that carries the count (for get-usage), and a function that
// waits for the count, which serve defers so that no count outlives its
// invocation.
func (a *API) startMetering(w http.ResponseWriter, r *http.Request, op routes.Operation, tenant string) (http.ResponseWriter, *http.Request, func()) {
	if !auth.ValidTenantID(tenant) {
		return w, r, func() {}
	}
	call := &meteredCall{done: make(chan struct{})}
	ctx := r.Context()
	go func() {
		defer close(call.done)
		mctx := ctx
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			mctx, cancel = context.WithDeadline(ctx, deadline.Add(-meterReserve))
			defer cancel()
		}
		call.usage, call.err = a.meter.CountCall(mctx, tenant)
		if call.err != nil {
			a.log.WarnContext(ctx, "call not counted", "op", op, "tenant", tenant, "error", call.err)
		}
	}()
	return &meteredWriter{ResponseWriter: w, call: call}, r.WithContext(context.WithValue(ctx, meteredCallKey{}, call)),
		func() { _, _ = call.wait() }
}

// meteredWriter adds the call's count to the response headers, waiting for
// the count when the headers are written.
type meteredWriter struct {
	http.ResponseWriter
	call        *meteredCall
	wroteHeader bool
}

func (m *meteredWriter) WriteHeader(status int) {
	if !m.wroteHeader {
		m.wroteHeader = true
		if u, err := m.call.wait(); err == nil {
			m.Header().Set(HeaderUsage, strconv.FormatInt(u.Total, 10))
			m.Header().Set(HeaderDailyUsage, strconv.FormatInt(u.DayCount, 10))
		}
	}
	m.ResponseWriter.WriteHeader(status)
}

func (m *meteredWriter) Write(b []byte) (int, error) {
	if !m.wroteHeader {
		m.WriteHeader(http.StatusOK)
	}
	return m.ResponseWriter.Write(b)
}

// getUsage: GET /v1/usage. It reports the count of this very call, which is
// metered like any other, so that its body agrees with its headers and it
// costs no read; only when counting failed does it read the counters.
func (a *API) getUsage(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	u, err := countOf(r)
	if err != nil {
		if u, err = a.store.Usage(r.Context(), tenant); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, usageView{
		Total: u.Total,
		Today: usageDayView{Date: u.Day.Format(time.DateOnly), Count: u.DayCount},
		Limits: limitsView{
			RateLimit: a.limits.RateLimit, BurstLimit: a.limits.BurstLimit,
			Quota: a.limits.QuotaPerDay, QuotaPeriod: "DAY",
		},
	})
	return nil
}

// countOf waits for the count of the call r belongs to.
func countOf(r *http.Request) (groups.Usage, error) {
	call, ok := r.Context().Value(meteredCallKey{}).(*meteredCall)
	if !ok {
		return groups.Usage{}, errors.New("the call is not metered")
	}
	return call.wait()
}

// The JSON of get-usage; its field names follow the usage plan's (snake
// case), as the issue specifies them.
type usageView struct {
	Total  int64        `json:"total"`
	Today  usageDayView `json:"today"`
	Limits limitsView   `json:"limits"`
}

type usageDayView struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

type limitsView struct {
	RateLimit   float64 `json:"rate_limit"`
	BurstLimit  float64 `json:"burst_limit"`
	Quota       float64 `json:"quota"`
	QuotaPeriod string  `json:"quota_period"`
}
