package transform

import (
	"runtime"
	"testing"
	"weak"
)

// TestPooledVMsKeepNoData: after a run, the pooled VM holds nothing of
// the values it saw, so one collection frees a request's decoded data.
// (expr clears a VM's stack only when its next run starts.)
func TestPooledVMsKeepNoData(t *testing.T) {
	for _, src := range []string{"len(body.items)", "map(body.items, .a)", "body.items", "filter(body.items, .a > 1)"} {
		t.Run(src, func(t *testing.T) {
			p, err := Compile(src, NewScope(nil))
			if err != nil {
				t.Fatal(err)
			}
			elem := map[string]any{"a": 2.0}
			items := []any{elem, map[string]any{"a": 1.0}}
			probe := weak.Make(&items[0])
			out, err := p.Run(map[string]any{"body": map[string]any{"items": items}})
			if err != nil {
				t.Fatal(err)
			}
			_ = out
			items, elem, out = nil, nil, nil
			runtime.GC()
			if probe.Value() != nil {
				t.Error("the list is still reachable after its run and a collection")
			}
		})
	}
}

// TestScopePoolFound: the VM's scope pool is found, so VMs that ran
// closures are cleared and kept, not dropped; an expr upgrade that renames
// the field fails here rather than quietly costing allocations.
func TestScopePoolFound(t *testing.T) {
	if scopePoolOffset < 0 {
		t.Fatal("vm.VM has no scopePool []vm.Scope field: release drops every VM that ran a closure")
	}
}
