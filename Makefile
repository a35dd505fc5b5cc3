# The developer's entry points. CMake + Ninja do the building; this file only names the steps.
#   make run    install what is missing, build, start ballast's demo
#   make test   install, build, run every test: unit + integration (release build), unit tests
#               again under ASan+UBSan, and the fuzzers (HTTP/1.1, ClientHello, HTTP/2 both
#               sides, DNS answers, etcd's JSON) for a short while
#   make build  optimised binaries: build/release/ballast, build/release/ballast-bench
#   make bench  run the micro-benchmarks
#   make deb    the Debian package: build/deb/ballast_<version>_<arch>.deb (debian/)
#   make test-package  builds it, installs it, runs the unit's service as systemd would, purges

RELEASE_DIR := build/release
ASAN_DIR    := build/asan
FUZZ_DIR    := build/fuzz
DEB_DIR     := build/deb
SOURCES      = $(shell git ls-files --cached --others --exclude-standard '*.cc' '*.h' 2>/dev/null)

.PHONY: deps build run test test-release test-asan test-fuzz test-package deb bench format format-check clean

deps:
	@scripts/install-deps

build: deps
	cmake -S . -B $(RELEASE_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(RELEASE_DIR)

run: build
	$(RELEASE_DIR)/ballast demo

test: build format-check test-release test-asan test-fuzz test-package

# Integration last, so that a failure's pytest summary ends the log.
test-release: build
	ctest --test-dir $(RELEASE_DIR) --output-on-failure -j2 -E '^integration$$'
	ctest --test-dir $(RELEASE_DIR) --output-on-failure -R '^integration$$'

test-asan: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" -DBALLAST_SANITIZE=ON -DBALLAST_TESTS_ONLY=ON
	cmake --build $(ASAN_DIR)
	ctest --test-dir $(ASAN_DIR) --output-on-failure -j2

# The parsers of untrusted bytes under libFuzzer (clang), briefly, two at a time (fuzz/).
test-fuzz: deps
	cmake -S fuzz -B $(FUZZ_DIR) -G Ninja -DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ_DIR)
	ctest --test-dir $(FUZZ_DIR) --output-on-failure -j2

# debhelper builds the package in its own tree (build/deb/obj) and writes the .deb beside it;
# debian/rules says how.
deb: deps
	rm -f $(DEB_DIR)/*.deb $(DEB_DIR)/*.ddeb
	dpkg-checkbuilddeps
	debian/rules clean
	DEB_BUILD_OPTIONS="$${DEB_BUILD_OPTIONS:-parallel=$$(nproc)}" debian/rules binary

# Installs the package on this machine (root), checks what it installed, runs the service as its
# unit says, then purges it (tests/package).
test-package: deb
	BALLAST_DEB="$(CURDIR)/$(DEB_DIR)/ballast_$$(dpkg-parsechangelog -S Version)_$$(dpkg-architecture -qDEB_HOST_ARCH).deb" \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/package

bench: build
	$(RELEASE_DIR)/ballast-bench

format:
	clang-format -i $(SOURCES)

format-check:
	clang-format --dry-run -Werror $(SOURCES)

clean:
	rm -rf build
