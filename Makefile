# Thin wrappers over the CMake presets. `make run` and `make test` are the README's quick start.
JOBS ?= $(shell nproc)
CONFIG ?= conf/anteroom.toml

.PHONY: all run test test-tsan bench fuzz build clean deps

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS)

run: build
	build/release/app/anteroom serve --config $(CONFIG)

test:
	@scripts/install-deps.sh --test
	cmake --preset debug-asan >/dev/null
	cmake --build --preset debug-asan -j $(JOBS)
	ctest --preset debug-asan

# ThreadSanitizer over the suites that run threads (tests/CMakeLists.txt, anteroom_tsan).
test-tsan:
	@scripts/install-deps.sh --test
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan -j $(JOBS)
	ctest --preset tsan

bench:
	@scripts/install-deps.sh --bench
	cmake --preset bench >/dev/null
	cmake --build --preset bench -j $(JOBS)

# libFuzzer targets (clang): each runs FUZZ_SECONDS (default 60) on a scratch copy of its seed
# corpus; FUZZ_TARGETS, FUZZ_MERGE=1, FUZZ_KEEP_GOING=1: see scripts/fuzz.sh.
fuzz:
	JOBS=$(JOBS) scripts/fuzz.sh

clean:
	rm -rf build
