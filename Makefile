# Thin wrapper over CMake. `make run` and `make test` are the two commands
# the README promises work on a fresh Debian 12 machine as root.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
RELEASE := build/release
SANITIZE := build/sanitize

.PHONY: run test build build-sanitize deps deps-test browser-deps bench clean

deps:
	@scripts/deps.sh run

deps-test:
	@scripts/deps.sh test

build: deps
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
	cmake --build $(RELEASE) -j $(JOBS)

build-sanitize: deps-test
	cmake -S . -B $(SANITIZE) -DCMAKE_BUILD_TYPE=Sanitize -DBUILD_TESTING=ON >/dev/null
	cmake --build $(SANITIZE) -j $(JOBS)

browser-deps: deps-test
	@scripts/browser-deps.sh

run: build
	@scripts/run.sh $(RELEASE)

test: build-sanitize browser-deps
	cd $(SANITIZE) && ctest --output-on-failure -j $(JOBS)

bench: build
	@bench/run-all.sh $(RELEASE)

clean:
	rm -rf build
