# adapterdb — build, test, demo and benchmarks.
#
#   make demo    the main job on the embedded default model (installs what it lacks;
#                MODEL=DIR make demo runs it on a checkpoint directory)
#   make check   the fast inner loop: go vet, gofmt check, go test -short without
#                -race (no apt, no fuzz, no e2e; a few minutes on 2 cores)
#   make test    every test under -race, fuzz targets for a few seconds each,
#                end-to-end scripts: the full run CI uses
#   make test-emu  training on the cuda backend's CPU emulator (part of make test)
#   make bench   the featurizer, kernel, adapter and SQL benchmarks
#   make lint    go vet + gofmt check
#   make ptx     rebuild the committed CUDA PTX (needs nvcc; see docs/cuda.md)

GO        ?= go
BIN       := bin/adapterdb
PKGS      := ./...
FUZZTIME  ?= 4s
# engine/train's learning tests (learningRun in engine/train/train_test.go)
LEARNING  := Learns|Overfit
# Debian packages the project needs at run or test time: OpenBLAS (the CPU GEMM,
# loaded at run time), the MariaDB client and PyMySQL (end-to-end SQL tests and
# the demo), sqlite3 (comparison figures and crash checks).
APT_PKGS  := libopenblas0-pthread libdnnl2 mariadb-client python3-pymysql sqlite3 gcc

.PHONY: all build check test test-emu demo bench lint deps godeps aptdeps ptx fuzz e2e clean

all: build

## deps: install what a fresh Debian machine lacks (apt packages, Go modules)
deps: aptdeps godeps

aptdeps:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

godeps:
	@$(GO) mod download

build: godeps
	@mkdir -p bin
	$(GO) build -o $(BIN) ./cmd/adapterdb

lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## check: lint and the short tests without the race detector (skips the
## learning tests and other long ones; needs no apt packages, no binary)
check: lint
	$(GO) run ./internal/testsummary $(GO) test -json -short $(PKGS)

# go test's JSON goes through internal/testsummary: failing tests' output in
# full, each package's ok/FAIL line, every skipped test with its reason, a
# closing "N passed, N failed, N skipped" line, and go test's exit status.
# engine/train's learning tests skip under -race (the detector finds nothing
# in them that the short training tests miss, and slows them 1.7 times): they
# run once more here without it.
test: deps lint build
	$(GO) run ./internal/testsummary $(GO) test -json -race -timeout 25m $(PKGS)
	$(GO) run ./internal/testsummary $(GO) test -json -timeout 10m -run '$(LEARNING)' ./engine/train
	$(MAKE) --no-print-directory fuzz
	$(MAKE) --no-print-directory e2e
	$(MAKE) --no-print-directory test-emu

## test-emu: training on the cuda backend's CPU emulator (no GPU needed): the
## backward, AdamW and train-vs-cpu tests of kernels/cuda, the engine's
## *CUDAEmulated tests, then an adapterdb built with -tags cudaemu runs
## testdata/e2e/cudaemu/*.sh (a few minutes)
EMU_BIN   := bin/emu/adapterdb
EMU_TESTS := TestTrainerConformance/.*/.*Backward|TestTrainerConformance/kernels/Stack|TestTrainerConformance/kernels/Buffers|TestLowPrecisionBackward|TestAdamW|TestTrainMatchesCPU
test-emu: aptdeps
	$(GO) run ./internal/testsummary $(GO) test -json -tags cudaemu -timeout 10m -run '$(EMU_TESTS)' ./kernels/cuda/
	$(GO) run ./internal/testsummary $(GO) test -json -tags cudaemu -timeout 10m -run 'CUDAEmulated' ./engine/ ./engine/adapter/ ./engine/model/ ./engine/train/
	@mkdir -p bin/emu
	$(GO) build -tags cudaemu -o $(EMU_BIN) ./cmd/adapterdb
	@for s in testdata/e2e/cudaemu/*.sh; do [ -f "$$s" ] || continue; echo "e2e $$s"; bash "$$s" $(EMU_BIN) || exit 1; done

## fuzz: every fuzz target for $(FUZZTIME) (untrusted input: files, text, packets). A run that fails
## with a bare "context deadline exceeded" and wrote no failing input runs once more: Go 1.26's
## fuzzing coordinator can report its own -fuzztime deadline as a failure on a loaded machine
## (golang/go#75804, fixed in Go 1.27); a real finding writes its input and still fails.
fuzz:
	@set -e; for spec in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
	  dir=$$(dirname $$spec); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$spec | sed 's/func //'); do \
	    echo "fuzz $$dir $$f"; \
	    out=$$(mktemp); \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir >$$out 2>&1 || \
	    { grep -q 'context deadline exceeded' $$out && ! grep -qE 'Failing input written|panic:|_test.go:[0-9]+:' $$out && \
	      echo "  go's fuzzing deadline race (golang/go#75804, no failing input): once more" && \
	      $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir >$$out 2>&1; } || \
	      { cat $$out; rm -f $$out; exit 1; }; \
	    rm -f $$out; \
	  done; \
	done

## e2e: end-to-end scripts against the real binary
e2e: build
	@for s in testdata/e2e/*.sh; do [ -f "$$s" ] || continue; echo "e2e $$s"; bash "$$s" $(BIN) || exit 1; done

demo: deps build
	bash testdata/demo.sh $(BIN)

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 3x -count 3 ./kernels/cpu/ ./engine/...
	bash testdata/bench.sh $(BIN)

ptx:
	$(MAKE) -C kernels/cuda ptx

clean:
	rm -rf bin
