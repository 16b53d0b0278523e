# cvoip front door. `make run` and `make test` are all a newcomer needs.
#   make run     install missing Debian packages, build, start cvoipd (demo)
#   make test    install, build with ASan+UBSan (gcc) and clang -Werror,
#                run every test through ctest
#   make bench   build release and run the benchmarks against the peers
#   make fuzz    run every libFuzzer target for FUZZ_SECONDS each
#   make tsan    runtime and event-bus tests under ThreadSanitizer
#   make format  clang-format the tree
#   make certs   test TLS certificates under var/certs
#   make clean   remove build trees

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 300
CMAKE_FLAGS ?=
CONFIG ?= etc/cvoipd.demo.yaml

.PHONY: all deps build apps run test test-build clang-build bench fuzz tsan format certs clean

all: build

deps:
	@./deps/install.sh

build/CMakeCache.txt:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps build/CMakeCache.txt
	cmake --build build -j $(JOBS)

# make run builds only the two programs (tests and benchmarks are make test's).
apps: deps build/CMakeCache.txt
	cmake --build build -j $(JOBS) --target cvoipd cvoip

run: apps
	@mkdir -p var
	./build/bin/cvoipd --config $(CONFIG)

# clang: -Werror build of everything plus the libFuzzer targets.
clang-build:
	CC=clang CXX=clang++ cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=Debug \
		-DCV_FUZZ=ON -DCV_SANITIZE=OFF $(CMAKE_FLAGS)
	cmake --build build-clang -j $(JOBS)

test-build: deps clang-build
	CC=gcc CXX=g++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
		-DCV_SANITIZE=ON -DCV_FUZZ_DIR=$(CURDIR)/build-clang/bin $(CMAKE_FLAGS)
	cmake --build build-asan -j $(JOBS)

test: test-build tsan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) --timeout 600

tsan: deps
	CC=clang CXX=clang++ cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCV_TSAN=ON $(CMAKE_FLAGS)
	cmake --build build-tsan -j $(JOBS) --target tsan_tests
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L tsan

bench: deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCV_BENCH=ON $(CMAKE_FLAGS)
	cmake --build build-bench -j $(JOBS)
	./bench/run.sh build-bench

fuzz: deps clang-build
	@for f in build-clang/bin/fuzz_*; do \
		name=$$(basename $$f); echo "== $$name ($(FUZZ_SECONDS)s)"; \
		./fuzz/run_short.sh $$f fuzz/corpus/$${name#fuzz_} $(FUZZ_SECONDS) || exit 1; \
	done

format:
	find include src apps tests bench fuzz examples -name '*.[ch]' | xargs clang-format -i

certs:
	./tests/tools/make-certs.sh var/certs

clean:
	rm -rf build build-asan build-clang build-tsan build-bench
