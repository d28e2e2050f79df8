# pecbatch: the targets a developer and CI use. `make test` is what CI runs.
GO        ?= go
BIN       ?= bin/pecbatch
FUZZTIME  ?= 20s
DEMO      ?= examples/solleciti/campaign.yaml

# Releases: `make dist` writes one archive per platform into $(DIST).
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
DIST      ?= dist
PLATFORMS := linux/amd64 linux/arm64 windows/amd64 darwin/arm64
# main.version is what `pecbatch version` and `--version` print; a build
# without it (go build, go install) prints the build info Go records.
LDFLAGS   := -s -w -X main.version=$(VERSION)
# Every entry of an archive gets the time of the last commit, so the same
# commit gives the same archives.
STAMP     ?= $(shell git log -1 --format=%cI 2>/dev/null)
# os-arch names: dist-linux-amd64, cross-windows-amd64, ...
TARGETS   := $(subst /,-,$(PLATFORMS))

.PHONY: build test test-deps vet lint bench fuzz demo soak stress dist cross clean FORCE

build:
	$(GO) build -o $(BIN) ./cmd/pecbatch

vet:
	$(GO) vet ./...

# golangci-lint with .golangci.yml, at a pinned version built by `go run`
# (cached after the first time), so a fresh machine needs nothing but Go and
# the module proxy. GOFLAGS is cleared for the build: -mod=vendor or the
# like, set for this module, must not apply to the tool's own build.
# GOLANGCI_LINT=golangci-lint uses one installed already.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT ?= GOFLAGS= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

lint:
	$(GOLANGCI_LINT) run ./...

# What the tests need beyond Go (chromium, python3): installed with
# apt-get when run as root, else the command to run is printed.
test-deps:
	bash scripts/test-deps.sh

# -timeout only guards against a hang: with both cores busy (make stress) the
# runner's tests take about 9 minutes under -race, near go test's default 10.
test: test-deps vet
	$(GO) test -race -count=1 -timeout 30m ./...

# `make test` STRESS times in a row while two CPU burners keep both cores
# busy: the check that the suite does not flake on a loaded machine.
STRESS    ?= 5
stress:
	bash scripts/stress.sh $(STRESS) test

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

# Static binaries for every platform: CGO_ENABLED=0 (the SQLite driver is pure
# Go), -trimpath so no path of the build machine is inside. `make -k dist`
# goes on past a platform that fails. In the recipes below $* is os-arch.
p_os    = $(word 1,$(subst -, ,$*))
p_arch  = $(word 2,$(subst -, ,$*))
p_exe   = $(if $(filter windows,$(p_os)),.exe)
p_ext   = $(if $(filter windows,$(p_os)),zip,tar.gz)
p_name  = pecbatch_$(VERSION)_$(p_os)_$(p_arch)
p_stage = $(DIST)/.build/$(p_name)

dist: $(addprefix dist-,$(TARGETS))

dist-%: FORCE
	rm -rf $(p_stage) && mkdir -p $(p_stage)
	CGO_ENABLED=0 GOOS=$(p_os) GOARCH=$(p_arch) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(p_stage)/pecbatch$(p_exe) ./cmd/pecbatch
	$(GO) run ./scripts/mkarchive -o $(DIST)/$(p_name).$(p_ext) -prefix $(p_name) $(if $(STAMP),-time $(STAMP)) \
		$(p_stage)/pecbatch$(p_exe) README.md docs/install.md=INSTALL.md
	rm -rf $(p_stage)

# The same builds without archives, written nowhere: does every platform compile?
cross: $(addprefix cross-,$(TARGETS))

cross-%: FORCE
	CGO_ENABLED=0 GOOS=$(p_os) GOARCH=$(p_arch) $(GO) build -trimpath -o /dev/null ./cmd/pecbatch

FORCE:

clean:
	rm -rf bin $(DIST)
