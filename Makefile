# The README's commands. Each installs what is missing first (scripts/install-deps.sh).
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja

.PHONY: all deps build build-asan run test test-release test-asan bench image k8s-smoke clean

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

# Starts redis-server and every service on embedded SQLite; Ctrl-C stops them all.
run: build
	@scripts/run.sh $(BUILD)

# The whole suite, optimized, then again under AddressSanitizer + UBSan.
test: test-release test-asan

test-release: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) --timeout 600

test-asan: build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) --timeout 900

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
	rm -rf $(BUILD) $(ASAN_BUILD)
