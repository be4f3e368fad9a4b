package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"frontdesk/engine"
)

// explainResilience writes, per call, the balancing, breaker, retry and
// hedge settings that apply to it.
func explainResilience(w io.Writer, p *engine.Plan) {
	fmt.Fprintln(w, "\n  resilience (per call):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "    CALL\tBALANCE\tBREAKER\tRETRY\tHEDGE")
	for _, c := range p.Calls {
		r := c.Resilience()
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", c.Name, balanceText(r), breakerText(r), retryText(r), hedgeText(r))
	}
	tw.Flush()
}

func balanceText(r engine.CallResilience) string {
	s := fmt.Sprintf("%s over %d", r.Balance, r.Instances)
	if r.Instances > 1 {
		s += fmt.Sprintf(", eject after %d for %s", r.EjectAfter, r.EjectFor)
	}
	if r.Health != nil {
		s += fmt.Sprintf(", health %s every %s", r.Health.Path, r.Health.Interval)
	}
	if r.MaxConnections > 0 {
		s += fmt.Sprintf(", at most %d connections", r.MaxConnections)
	}
	return s
}

func breakerText(r engine.CallResilience) string {
	b := r.Breaker
	s := fmt.Sprintf("opens at %s of %d+ in %s", strconv.FormatFloat(b.FailureRatio, 'f', -1, 64), b.MinRequests, b.Window)
	if b.ConsecutiveTimeouts > 0 {
		s += fmt.Sprintf(" or %d timeouts in a row", b.ConsecutiveTimeouts)
	}
	return s + fmt.Sprintf(", for %s", b.OpenFor)
}

func retryText(r engine.CallResilience) string {
	if r.Attempts <= 1 {
		if !r.Idempotent {
			return "none (not idempotent)"
		}
		return "none"
	}
	return fmt.Sprintf("%d attempts, backoff %s, budget %s", r.Attempts, r.Backoff, strconv.FormatFloat(r.Budget, 'f', -1, 64))
}

func hedgeText(r engine.CallResilience) string {
	if r.HedgeAfter == 0 {
		return "-"
	}
	return "after " + r.HedgeAfter.String()
}

// resilienceJSON is a call's resilience for --format json.
func resilienceJSON(c *engine.Call) map[string]any {
	r := c.Resilience()
	out := map[string]any{
		"balance": r.Balance, "instances": r.Instances, "eject_after": r.EjectAfter, "eject_for_ms": ms(r.EjectFor),
		"breaker": map[string]any{"failure_ratio": r.Breaker.FailureRatio, "min_requests": r.Breaker.MinRequests,
			"window_ms": ms(r.Breaker.Window), "open_for_ms": ms(r.Breaker.OpenFor), "consecutive_timeouts": r.Breaker.ConsecutiveTimeouts},
		"retry":           map[string]any{"attempts": r.Attempts, "backoff_ms": ms(r.Backoff), "budget": r.Budget, "idempotent": r.Idempotent},
		"hedge_after_ms":  ms(r.HedgeAfter),
		"max_connections": r.MaxConnections,
	}
	if r.Health != nil {
		out["health"] = map[string]any{"path": r.Health.Path, "interval_ms": ms(r.Health.Interval), "timeout_ms": ms(r.Health.Timeout)}
	}
	return out
}
