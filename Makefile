# The README's commands. Each installs what is missing first (scripts/install-deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja

.PHONY: all deps build build-asan build-fuzz run test test-release test-asan test-fuzz fuzz bench image k8s-smoke clean

all: build

deps:
	@scripts/install-deps.sh
	@scripts/npm-deps.sh deploy/k8s/validate

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# -O1 with line tables only: readable sanitizer stack traces, and it compiles in
# about half the time of -O2 -g.
ASAN_FLAGS := -O1 -g1 -DNDEBUG

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIGHTLINE_SANITIZE=ON \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$(ASAN_FLAGS)" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$(ASAN_FLAGS)" >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# The libFuzzer targets (fuzz/) with ASan and UBSan, in their own clang build
# that compiles only what the targets link.
build-fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DSIGHTLINE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

# Every fuzz target for FUZZ_SECONDS (FUZZ_TARGETS="fuzz_jwt ..." for some).
fuzz: build-fuzz
	@fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Starts redis-server and every service on embedded SQLite; Ctrl-C stops them all.
run: build
	@scripts/run.sh $(BUILD)

# The whole suite, optimized, then again under AddressSanitizer + UBSan, then
# every fuzz target over its seeds plus a few seconds of new inputs.
test: test-release test-asan test-fuzz

test-release: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 600

test-asan: build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --timeout 900

test-fuzz: build-fuzz
	@ctest --test-dir $(FUZZ_BUILD) --output-on-failure -j $(JOBS) --timeout 120

bench: build
	@bench/run.sh $(BUILD)

# The container image (buildah, from debootstrap; not part of `make test`).
IMAGE_TARGETS := sightline-people sightline-goals sightline-feedback sightline-metrics sightline

image: deps
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target $(IMAGE_TARGETS)
	@scripts/install-image-deps.sh
	@deploy/image/build.sh $(BUILD)

# The dev overlay run by `podman play kube` from that image, called, torn down.
k8s-smoke: image
	@/usr/bin/python3 deploy/image/k8s_smoke.py . $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
