# The developer's entry points. CMake + Ninja do the building; this file only names the steps.
#   make run    install what is missing, build, start ballast's demo
#   make test   install, build, run every test: unit + integration (release build), unit tests
#               again under ASan+UBSan, and the fuzzers (HTTP/1.1, ClientHello, HTTP/2 both
#               sides, DNS answers, etcd's JSON) for a short while
#   make build  optimised binaries: build/release/ballast, build/release/ballast-bench
#   make bench  run the micro-benchmarks

RELEASE_DIR := build/release
ASAN_DIR    := build/asan
FUZZ_DIR    := build/fuzz
SOURCES      = $(shell git ls-files --cached --others --exclude-standard '*.cc' '*.h' 2>/dev/null)

.PHONY: deps build run test test-release test-asan test-fuzz bench format format-check clean

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(RELEASE_DIR)

run: build
	$(RELEASE_DIR)/ballast demo

test: build format-check test-release test-asan test-fuzz

# Integration last, so that a failure's pytest summary ends the log.
test-release: build
	ctest --test-dir $(RELEASE_DIR) --output-on-failure -E '^integration$$'
	ctest --test-dir $(RELEASE_DIR) --output-on-failure -R '^integration$$'

test-asan: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" -DBALLAST_SANITIZE=ON -DBALLAST_TESTS_ONLY=ON
	cmake --build $(ASAN_DIR)
	ctest --test-dir $(ASAN_DIR) --output-on-failure

# The parsers of untrusted bytes under libFuzzer (clang), briefly, two at a time (fuzz/).
test-fuzz: deps
	cmake -S fuzz -B $(FUZZ_DIR) -G Ninja -DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ_DIR)
	ctest --test-dir $(FUZZ_DIR) --output-on-failure -j2

bench: build
	$(RELEASE_DIR)/ballast-bench

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run -Werror $(SOURCES)

clean:
	rm -rf build
