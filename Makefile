# pecbatch: the targets a developer and CI use. `make test` is what CI runs.
GO        ?= go
BIN       ?= bin/pecbatch
FUZZTIME  ?= 20s
DEMO      ?= examples/solleciti/campaign.yaml

.PHONY: build test vet bench fuzz demo soak clean

build:
	$(GO) build -o $(BIN) ./cmd/pecbatch

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -count=1 ./...

# Benchmarks: Go benchmarks of the hot paths, then whole-process figures
# (validate throughput and memory, send pacing, tracking cost, load).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash scripts/bench.sh

# 2,000 sends against a faster sandbox with faults on; exactly-once checked at the end.
soak: build
	bash scripts/soak.sh

# Every fuzz target for FUZZTIME each; crashers land in testdata/fuzz as regression tests.
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

# The README's first command: the demo campaign against the built-in sandbox.
demo:
	$(GO) run ./cmd/pecbatch run $(DEMO) --sandbox --yes

clean:
	rm -rf bin
