package metrics

import (
	"testing"
	"time"
)

func BenchmarkObserve(b *testing.B) {
	e := New().Endpoint("GET /checkout/{cart_id}", []string{"cart"})
	b.ReportAllocs()
	for b.Loop() {
		e.Done(200, time.Millisecond)
		e.ObserveCall(0, OK, time.Millisecond)
	}
}

func TestObserveAllocs(t *testing.T) {
	e := New().Endpoint("GET /a", []string{"c"})
	e.Done(404, 0) // the first 404 makes its series
	if n := testing.AllocsPerRun(100, func() {
		e.Done(200, time.Millisecond)
		e.Done(404, time.Millisecond)
		e.ObserveCall(0, Failed, time.Millisecond)
	}); n != 0 {
		t.Errorf("%v allocs per observation, want 0", n)
	}
}
