GO       ?= go
FUZZTIME ?= 20s
BIN      := bin/frontdesk

# go test ./... shows nothing of a package that passes, so a Redis test's
# skip message is hidden without -v: this says it once instead (with CI
# set those tests fail rather than skip).
REDIS_NOTE = @[ -n "$$CI" ] || if [ -z "$$FRONTDESK_REDIS_URL" ]; then \
	  echo "note: FRONTDESK_REDIS_URL is not set: the tests that need the shared Redis skip (redis-server --port 6390 & then FRONTDESK_REDIS_URL=redis://127.0.0.1:6390/0 make test)"; fi; \
	if [ -z "$$CI" ] && ! command -v redis-server >/dev/null 2>&1; then \
	  echo "note: redis-server is not installed: the tests that start their own Redis skip"; fi

.PHONY: build run test check bench fuzz fmt loadtest

build:
	$(GO) build -o $(BIN) ./cmd/frontdesk

# The gateway with its demo services and the example endpoints on :8080.
run:
	$(GO) run ./cmd/frontdesk serve --demo

test: build
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(REDIS_NOTE)
	$(GO) test -race -shuffle=on -timeout 8m ./...
	$(BIN) lint endpoints
	$(BIN) test endpoints

# The fast edit loop: vet, staticcheck and the tests, without -race and
# without the binary's lint/test of endpoints; make test before a push.
check:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(REDIS_NOTE)
	$(GO) test ./...

# Go benchmarks with allocations (kept in testdata/bench/latest.txt for
# benchstat against testdata/bench/baseline.txt), then a short load run.
bench: build
	@mkdir -p testdata/bench
	@$(GO) test -run '^$$' -bench . -benchmem -count 1 ./... > testdata/bench/latest.txt; \
	  status=$$?; cat testdata/bench/latest.txt; exit $$status
	$(GO) run ./cmd/loadtest -frontdesk $(BIN) -duration 3s

# Each native fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

# The gateway against a hand-written net/http "floor" and direct backend
# calls, on loopback: one table row per case (cmd/loadtest). 10s per run;
# e.g. make loadtest LOADTEST_FLAGS="-duration 2s" or "-soak 60s".
loadtest: build
	$(GO) run ./cmd/loadtest -frontdesk $(BIN) $(LOADTEST_FLAGS)
