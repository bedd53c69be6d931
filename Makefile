# The README's two commands are `make demo` and `make test`; both install what they need first.
SHELL := /bin/bash
GO    ?= go
OUT   ?= out
# Models and evaluation data live beside the checkout, never in it.
SHARED ?= $(abspath ../shared)
# Where `make models` downloads the weights when no models directory exists yet.
MODELS_CACHE ?= $(HOME)/.cache/snowlight/models
export SNOWLIGHT_MODELS ?= $(if $(wildcard $(SHARED)/models),$(SHARED)/models,$(if $(wildcard $(MODELS_CACHE)/*.onnx),$(MODELS_CACHE),))
export SNOWLIGHT_EVAL   ?= $(if $(wildcard $(SHARED)/eval),$(SHARED)/eval,)
export SNOWLIGHT_TESTVIDEOS ?= $(abspath $(OUT)/testvideos)
# Packages whose goroutines meet: their tests always run under the race detector.
RACE_PKGS := ./ingest/... ./media/... ./center/... ./live/... ./auth/... ./audit/... ./web/... ./tracks/... ./store/... ./alerts/... ./objstore/... ./pipeline/... ./retention/... ./watchlist/... ./server/... ./bus/...

.PHONY: setup build demo test test-unit test-race test-valgrind testvideos models bench bench-ingest bench-perception bench-density bench-alerts bench-search test-browser bench-console test-outage bench-center clean

setup:
	@./scripts/setup.sh

build: setup
	$(GO) build -o bin/snowlight ./cmd/snowlight

testvideos: build
	./bin/snowlight testvideos --out $(SNOWLIGHT_TESTVIDEOS)
	./bin/snowlight scenario cache

demo: build
	./bin/snowlight demo

test: build testvideos
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m $$($(GO) list ./... | grep -v -E '/(ingest|media|center|live|auth|audit|web|tracks|store|alerts|objstore|pipeline|retention|watchlist|server|bus)(/|$$)')
	$(GO) test -race -count=1 -timeout 30m $(RACE_PKGS)
	$(GO) test -race -count=1 -run 'Concurrent' ./detect/
	$(GO) test -race -count=1 -run 'Concurrent|Delete|Persistence' ./search/
	$(GO) test -tags matprofile -count=1 -run TestNoMatLeaks ./detect/ ./redact/ ./export/
	$(GO) test -count=1 -timeout 20m -run City5 ./pipeline/  # the six-camera replay, too slow under -race
	$(GO) test -tags matprofile -count=1 -run TestNoMatLeaks ./pipeline/
	$(MAKE) test-valgrind

# The decoder's C code and the libavcodec/libswscale it drives, under valgrind's memcheck: pictures of widths
# 848..862 (every even residue modulo swscale's 16-pixel blocks, led by 856, which corrupted the heap) and
# the decode fuzzer's seeds (odd sizes in 4:4:4, malformed input); about 30 s. -tags valgrind makes the Go
# runtime describe its heap and goroutine stacks to valgrind, GOEXPERIMENT=nodwarf5 gives it debug info it
# reads, asyncpreemptoff keeps preemption signals off goroutine stacks; valgrind's leak check does not
# understand the Go heap (cgo leaks are the matprofile tests' job). --alignment=64 leaves 8 bytes between
# the end of an OpenCV Mat's pixels and the end of its malloc block (8 to 56 otherwise), so a write past a
# picture is caught (TestDecodeEveryWidth's canary row catches shorter ones). The "unhandled syscall 434"
# warning is pidfd_open, which os/exec falls back from.
test-valgrind:
	GOEXPERIMENT=nodwarf5 $(GO) test -c -tags valgrind -o $(abspath $(OUT))/av.valgrind.test ./ingest/av/
	cd ingest/av && GODEBUG=asyncpreemptoff=1 valgrind -q --error-exitcode=1 --leak-check=no --alignment=64 \
		$(abspath $(OUT))/av.valgrind.test -test.short -test.run '^(TestDecodeEveryWidth|FuzzDecode)$$'

bench: build testvideos
	$(GO) test -run '^$$' -bench . -benchtime 3s ./...

# Downloads the model weights from their upstream repositories and verifies their sha256 (a verified copy
# already present is kept). Offline it says so and explains --models / SNOWLIGHT_MODELS.
models: build
	./bin/snowlight models fetch --dir $(or $(SNOWLIGHT_MODELS),$(MODELS_CACHE))

# Perception: the inference engines side by side (whole stage and each model), ms per stage, CPU per
# camera-second gated vs ungated and with OSNet on every person vs the appearance schedule (and the tracks
# each makes), Go vs OpenCV's C++ for YuNet and YOLOX (docs/BENCHMARKS.md, "Perception").
bench-perception: build testvideos
	./bin/snowlight bench perception

# Camera density: how many busy-street cameras (camsim, vtest at 5 detection fps) the machine holds in
# real time through ingest and perception, on each engine; several minutes (docs/BENCHMARKS.md).
bench-density: build testvideos
	./bin/snowlight bench density

# End-to-end alert latency: enrolled face in view at camsim to the alert on an API stream client, p50/p95
# over 20 alerts, and alert to clip readable in MinIO (docs/BENCHMARKS.md, "Alerts end to end"). About
# five minutes: the scene plays in real time.
bench-alerts: build testvideos
	$(GO) test -run '^$$' -bench AlertLatency -benchtime 1x -timeout 20m -v ./server/

# Search by example and by description over ten million synthetic sightings: latency and CPU per query,
# recall@10 against an exact scan, memory (docs/BENCHMARKS.md, "Search"). Builds a 6 GB index in a
# temporary directory first (about ten minutes on 2 cores).
bench-search: build
	./bin/snowlight bench search --sightings 10000000 --queries 100 --recall 10

# Ingest vs ffmpeg vs OpenCV VideoCapture on simulated 720p cameras (docs/BENCHMARKS.md, "Ingest").
bench-ingest: build testvideos
	./bin/snowlight bench ingest --cameras 4 --duration 20s

# The console in headless Chromium: against a server over fakes with a real live view (web/browsertest),
# then against the real product on the rendered demo scene with camsim cameras and the real models
# (cmd/snowlight TestDemoConsole); make test runs both too. Screenshots of every page go to
# $(OUT)/screenshots (the real product's to $(OUT)/screenshots/demo).
test-browser: setup testvideos
	SNOWLIGHT_SCREENSHOTS=$(abspath $(OUT))/screenshots $(GO) test -race -count=1 -v -run '^TestConsole$$' ./web/browsertest/
	SNOWLIGHT_SCREENSHOTS=$(abspath $(OUT))/screenshots $(GO) test -count=1 -v -timeout 10m -run '^TestDemoConsole$$' ./cmd/snowlight/
	@echo "screenshots: $(abspath $(OUT))/screenshots"

# WHEP offer to first frame in Chromium, console first load, server CPU per added WebRTC viewer, on the
# fixture and (first frame, first load) on the real product (docs/BENCHMARKS.md, "Console and live view").
bench-console: setup testvideos
	$(GO) test -run '^$$' -bench 'WHEPFirstFrame|ConsoleFirstLoad' -benchtime 20x ./web/browsertest/
	$(GO) test -run '^$$' -bench 'LiveViewerCPU' -benchtime 1x -v ./web/browsertest/
	$(GO) test -run '^$$' -bench 'DemoWHEPFirstFrame|DemoConsoleFirstLoad' -benchtime 20x ./cmd/snowlight/

# The distributed mode's outage acceptance at the issue's length: an edge cut off from NATS for 60 s keeps
# its pinned camera, and every event of that minute is applied once after reconnection with its true
# time, in the bus packages and in the demo scene on two edge processes and a center (make test runs
# the same tests with a 6 s outage).
test-outage: setup testvideos
	SNOWLIGHT_LONG=1 $(GO) test -race -count=1 -v -timeout 10m -run 'Outage|Pinned' ./bus/lease/
	SNOWLIGHT_LONG=1 $(GO) test -count=1 -v -timeout 15m -run '^TestDistributedFailover$$' ./cmd/snowlight/

# The center's intake over NATS: 10,000 synthetic cameras at city rate and at capacity, one server and a
# three-node cluster, with and without the idempotency ledger; then the real center fed by edges that
# lease the 10,000 cameras, at 0.3 sightings/s each (docs/BENCHMARKS.md, "Distributed mode").
bench-center: setup build
	$(GO) test -run '^$$' -bench Center -benchtime 1x -timeout 40m ./bus/busbench/
	./bin/snowlight bench center --cameras 10000 --rate 0.3
	./bin/snowlight bench center --cameras 10000 --rate 0.3 --nats-servers 3

clean:
	rm -rf bin $(OUT)
