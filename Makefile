# Thin wrapper: the real build is CMake + Ninja. Every target installs missing packages first.
BUILD_DIR ?= build
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
DEMO_DIR ?= $(BUILD_DIR)/demo
# ccache keys on paths relative to the checkout, so a clone at another path (CI) and the image
# build (/src, scripts/container-test.sh) reuse the objects this checkout compiled.
export CCACHE_BASEDIR := $(CURDIR)

.PHONY: all deps configure build test test-unit test-asan test-tsan thread-safety deps-fuzz \
	fuzz-build fuzz \
	fuzz-ci demo bench bench-compression clean format tidy container-test cluster-test

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: deps $(BUILD_DIR)/build.ninja

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The quick loop: builds only the unit test executables (and what they link), runs `ctest -L unit`.
# --no-tests=error: a label that selects nothing fails instead of passing (tests/CMakeLists.txt).
test-unit: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target tests_unit
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --no-tests=error -L unit $(CTEST_ARGS)

# Sanitizer runs (docs/testing.md): their own build dirs, RelWithDebInfo at -O1 for speed.
# ASan+UBSan covers the unit and integration tests (the binaries those start are built with the
# same flags); TSan (clang) only the unit tests also labelled concurrency, which link neither
# LibTorch nor gRPC.
# Reports from every process, children included, land in <dir>/sanitizer-logs; the run fails if
# any report is there even when the test that started the process passed. CTEST_ARGS narrows it.
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
SAN_SUPP := $(CURDIR)/tests/sanitizers
SAN_CMAKE = -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO='-O1 -g' \
	-DCMAKE_C_FLAGS_RELWITHDEBINFO='-O1 -g'
SAN_COMMON = halt_on_error=1:abort_on_error=1:print_stacktrace=1
test-asan test-tsan: export UBSAN_OPTIONS = $(SAN_COMMON):suppressions=$(SAN_SUPP)/ubsan.supp
test-asan: export ASAN_OPTIONS = $(SAN_COMMON):detect_leaks=1:detect_stack_use_after_return=1:\
strict_init_order=1:check_initialization_order=1
test-asan: export LSAN_OPTIONS = suppressions=$(SAN_SUPP)/lsan.supp:print_suppressions=0
test-tsan: export TSAN_OPTIONS = $(SAN_COMMON):second_deadlock_stack=1:\
suppressions=$(SAN_SUPP)/tsan.supp

$(ASAN_DIR)/build.ninja: CMakeLists.txt | deps
	@cmake -S . -B $(ASAN_DIR) $(SAN_CMAKE) -DARGINATOR_SANITIZE=address,undefined


test-asan: deps $(ASAN_DIR)/build.ninja
	@cmake --build $(ASAN_DIR) -j $(JOBS) --target tests_unit tests_integration
	@JOBS=$(JOBS) bash scripts/sanitized-ctest.sh $(ASAN_DIR) --no-tests=error -L 'unit|integration' \
		$(CTEST_ARGS)

# TSan builds with clang-15 (deps-fuzz installs it), so this is also where -Wthread-safety checks
# the lock annotations (common/mutex.h) in CI. A build dir configured with another compiler is
# configured again from scratch: CMake keeps the compiler it first found.
test-tsan: deps-fuzz
	@grep -qs '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++-15$$' $(TSAN_DIR)/CMakeCache.txt || \
		{ rm -rf $(TSAN_DIR) && CC=clang-15 CXX=clang++-15 cmake -S . -B $(TSAN_DIR) $(SAN_CMAKE) \
		-DARGINATOR_SANITIZE=thread; }
	@cmake --build $(TSAN_DIR) -j $(JOBS) --target tests_concurrency
	@JOBS=$(JOBS) bash scripts/sanitized-ctest.sh $(TSAN_DIR) --no-tests=error -L concurrency \
		$(CTEST_ARGS)

# Clang's -Wthread-safety over every source of server/ and common/, with the flags of the main
# build (its compile_commands.json), parsed only: the lock annotations of the whole server, which
# GCC ignores and test-tsan covers only for the concurrency tests (docs/testing.md).
thread-safety: deps-fuzz build
	@bash scripts/check-thread-safety.sh $(BUILD_DIR)

# libFuzzer targets (docs/fuzzing.md): clang-15 with ASan+UBSan in FUZZ_DIR, no LibTorch. `make fuzz`
# runs each target FUZZ_SECONDS on a working copy of its seed corpus (FUZZ_DIR/corpus/<target>);
# `make fuzz-ci` runs the CI set for FUZZ_CI_SECONDS each. Either fails on a crash, leak, hang or
# UB report and prints the executions each target ran; inputs land in FUZZ_DIR/findings/<target>/.
# embedding_h5 is not in the CI set: libhdf5 itself crashes on some hostile files, so it runs with
# a known-crash exclusion and takes longer to say anything (scripts/run-fuzzers.sh).
FUZZ_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_CI_SECONDS ?= 20
FUZZ_TARGETS ?= request_parser model_card embedding_files config rest_infer rest_request \
	version_labels embedding_h5
FUZZ_CI_TARGETS ?= request_parser model_card embedding_files config rest_infer rest_request \
	version_labels

deps-fuzz:
	@bash scripts/install-deps.sh --fuzz

$(FUZZ_DIR)/build.ninja: CMakeLists.txt | deps-fuzz
	@CC=clang-15 CXX=clang++-15 cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release \
		-DARGINATOR_FUZZ=ON

fuzz-build: deps-fuzz $(FUZZ_DIR)/build.ninja
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target arginator_fuzz

fuzz: fuzz-build
	@bash scripts/run-fuzzers.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci: fuzz-build
	@bash scripts/run-fuzzers.sh $(FUZZ_DIR) $(FUZZ_CI_SECONDS) $(FUZZ_CI_TARGETS)

# Builds only the four binaries the demo runs (not the tests: a newcomer waits for nothing unused).
DEMO_TARGETS := arginator-train arginator-server arginator-client arginator-loadgen
demo: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target $(DEMO_TARGETS)
	@bash scripts/demo.sh $(BUILD_DIR) $(DEMO_DIR)

# Builds both images with podman, runs them, plays k8s/overlays/cpu (docs/operations.md). Prints
# "container-test: SKIPPED" and succeeds where podman cannot run a container.
container-test: build
	@bash scripts/container-test.sh $(BUILD_DIR)

# Three replicas behind HAProxy, scraped by Prometheus, through publish, a rolling restart, a
# SIGKILL and a canary/promote/rollback under load (docs/operations.md "Running several
# replicas"). About 3.5 minutes; prints "cluster-test: SKIPPED" where haproxy or prometheus is
# missing.
cluster-test: build
	@bash scripts/cluster-test.sh $(BUILD_DIR)

bench: build
	@bash scripts/bench.sh $(BUILD_DIR)

# fp32 against its int8 and pruned versions at synthetic scale 1 (docs/benchmarks.md).
bench-compression: build
	@bash scripts/bench-compression.sh $(BUILD_DIR)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

# clang-tidy-15 with the repository's .clang-tidy over every .cc of ours that BUILD_DIR compiles
# (its compile_commands.json; generated protobuf code excluded). Fails on any finding. Minutes:
# the files that include LibTorch take tens of seconds each. TIDY_FILES narrows it (a regex).
TIDY_FILES ?= $(CURDIR)/(common|server|client|trainer|bench|tests)/.*\.cc$$
tidy: deps-fuzz configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target arginator_proto arginator_inference_proto \
		arginator_grpc_probe_proto
	@run-clang-tidy-15 -p $(BUILD_DIR) -j $(JOBS) -quiet '$(TIDY_FILES)'

clean:
	@rm -rf $(BUILD_DIR)
