# The README's two commands are `make demo` and `make test`; both install what they need first.
SHELL := /bin/bash
GO    ?= go
OUT   ?= out
# Models and evaluation data live beside the checkout, never in it.
SHARED ?= $(abspath ../shared)
export SNOWLIGHT_MODELS ?= $(if $(wildcard $(SHARED)/models),$(SHARED)/models,)
export SNOWLIGHT_EVAL   ?= $(if $(wildcard $(SHARED)/eval),$(SHARED)/eval,)
export SNOWLIGHT_TESTVIDEOS ?= $(abspath $(OUT)/testvideos)
# Packages whose goroutines meet: their tests always run under the race detector.
RACE_PKGS := ./ingest/... ./live/... ./auth/... ./audit/... ./web/... ./tracks/... ./store/... ./alerts/... ./objstore/...

.PHONY: setup build demo test test-unit test-race testvideos bench bench-ingest test-browser bench-console clean

setup:
	@./scripts/setup.sh

build: setup
	$(GO) build -o bin/snowlight ./cmd/snowlight

testvideos: build
	./bin/snowlight testvideos --out $(SNOWLIGHT_TESTVIDEOS)

demo: build testvideos
	./bin/snowlight demo

test: build testvideos
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v -E '/(ingest|live|auth|audit|web|tracks|store|alerts|objstore)(/|$$)')
	$(GO) test -race -count=1 -timeout 30m $(RACE_PKGS)

bench: build testvideos
	$(GO) test -run '^$$' -bench . -benchtime 3s ./...

# Ingest vs ffmpeg vs OpenCV VideoCapture on simulated 720p cameras (docs/BENCHMARKS.md, "Ingest").
bench-ingest: build testvideos
	./bin/snowlight bench ingest --cameras 4 --duration 20s

# The console in headless Chromium against a server with a real live view (web/browsertest; make test
# runs it too). Screenshots of every page go to $(OUT)/screenshots.
test-browser: setup
	SNOWLIGHT_SCREENSHOTS=$(abspath $(OUT))/screenshots $(GO) test -race -count=1 -v -run '^TestConsole$$' ./web/browsertest/
	@echo "screenshots: $(abspath $(OUT))/screenshots"

# WHEP offer to first frame in Chromium, console first load, server CPU per added WebRTC viewer
# (docs/BENCHMARKS.md, "Console and live view").
bench-console: setup
	$(GO) test -run '^$$' -bench 'WHEPFirstFrame|ConsoleFirstLoad' -benchtime 20x ./web/browsertest/
	$(GO) test -run '^$$' -bench 'LiveViewerCPU' -benchtime 1x -v ./web/browsertest/

clean:
	rm -rf bin $(OUT)
