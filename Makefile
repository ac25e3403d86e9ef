# feedbackd — common tasks. `make test` is the test command of the README and
# of CI (.ci/run); it installs what the tests need first.
GO        ?= go
PKGS      ?= ./...
BENCHTIME ?= 2s

.PHONY: all build run test test-deps vet fmt unit e2e bench fuzz clean

all: build

build:
	$(GO) build -trimpath -o bin/feedbackd ./cmd/feedbackd

run:
	$(GO) run ./cmd/feedbackd

# Everything: gofmt, vet, the Go suite with -race (headless Chromium
# included), the end-to-end MCP suite with real npm clients, and a short chaos
# run against a local cluster. `make unit` is the quick loop while
# developing.
#
# Compiling for -race is most of the time on a fresh clone, so it is done
# once: go vet (every analyzer) runs inside `go test` over the same -race
# build, and the binaries e2e and chaos run are built with -race too (only
# linked then), which also puts the race detector on the real processes: a
# race reported in their logs fails the suite.
test: export GOFLAGS := $(GOFLAGS) -race
test: test-deps fmt unit e2e chaos

test-deps:
	bash .ci/deps.sh

vet: fmt
	$(GO) vet $(PKGS)

fmt:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }

# -vet=all: every go vet analyzer, over the build the tests use.
unit:
	$(GO) test -race -vet=all -count=1 -timeout 20m $(PKGS)

e2e:
	bash e2e/run.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./edge/... ./sessions/...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeCreate -fuzztime 30s ./pkg/envelope/
	$(GO) test -run '^$$' -fuzz FuzzAuthorizationHeader -fuzztime 30s ./edge/
	$(GO) test -run '^$$' -fuzz FuzzDecodeError -fuzztime 30s ./pkg/client/
	$(GO) test -run '^$$' -fuzz FuzzParseEvent -fuzztime 30s ./pkg/client/
	$(GO) test -run '^$$' -fuzz FuzzFormJSON -fuzztime 30s ./pkg/client/
	$(GO) test -run '^$$' -fuzz FuzzSessionIDCheck -fuzztime 30s ./edge/mcp/
	$(GO) test -run '^$$' -fuzz FuzzAppRef -fuzztime 30s ./edge/mcp/
	$(GO) test -run '^$$' -fuzz FuzzElicitSubmission -fuzztime 30s ./edge/mcp/

clean:
	rm -rf bin

# The local cluster (deploy/local/cluster.sh): 3 NATS nodes, 2 edges, 2
# notifiers, 2 expirers, 2 dispatchers, nginx on 127.0.0.1:8780.
.PHONY: cluster cluster-down cluster-status
cluster:
	bash deploy/local/cluster.sh up

cluster-down:
	bash deploy/local/cluster.sh down

cluster-status:
	bash deploy/local/cluster.sh status

.PHONY: chaos
# A short chaos run against a fresh local cluster (CHAOS_DURATION to lengthen it).
chaos:
	bash deploy/local/chaos.sh
