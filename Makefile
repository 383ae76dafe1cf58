# streamsim: two commands on a fresh Debian 12 machine do all set-up:
#   make demo   installs missing packages, builds, runs the default scenario suite
#   make test   same set-up, then every test through ctest
# SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer (into build-san/).

SAN ?= 0
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
ifeq ($(SAN),1)
  BUILD ?= build-san
  CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTREAMSIM_SANITIZE=ON
else
  BUILD ?= build
  CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=Release
endif
SEEDS ?= 20
PREFIX ?= /usr/local

.PHONY: all deps configure build demo test bench bench-nexmark sweep-long clean install

all: build

deps:
	@./tools/deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The default suite on the embedded simulated world: every safe scenario must
# hold on every seed and every canary must be caught.
demo: build
	@./$(BUILD)/streamsim sweep scenarios/kernel scenarios/kafka scenarios/canary \
		scenarios/pipelines/engine-crash-exactly-once.textproto \
		scenarios/pipelines/zombie-fencing.textproto \
		scenarios/pipelines/rebalance-scale-out-in.textproto \
		scenarios/pipelines/leader-failover-under-load.textproto \
		scenarios/pipelines/late-events-beyond-lateness.textproto \
		scenarios/pipelines/slow-broker.textproto --seeds $(SEEDS) --jobs $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	@./$(BUILD)/streamsim bench kernel
	@./$(BUILD)/streamsim bench kernel --json
	@./$(BUILD)/streamsim bench nexmark --query all --events 1000000

# The full Nexmark numbers: 10 million events per query in memory (and 200,000
# through the simulated cluster for q0 and q1), three runs; report the medians.
bench-nexmark: build
	@for i in 1 2 3; do ./$(BUILD)/streamsim bench nexmark --query all --events 10000000 --json; done

# Long sweeps are not part of `make test`.
sweep-long: build
	@./$(BUILD)/streamsim sweep scenarios/kernel --seeds 5000 --jobs $(JOBS)
	@./$(BUILD)/streamsim sweep scenarios/canary --seeds 50 --jobs $(JOBS)
	@./$(BUILD)/streamsim sweep scenarios/kafka --seeds 200 --jobs $(JOBS)
	@./$(BUILD)/streamsim sweep $(filter-out scenarios/pipelines/long-run.textproto,$(wildcard scenarios/pipelines/*.textproto)) \
		--seeds 100 --jobs $(JOBS)
	@./$(BUILD)/streamsim sweep scenarios/pipelines/long-run.textproto --seeds 20 --jobs $(JOBS)

# Installs the libraries, headers, the streamsim binary and the CMake package
# (find_package(streamsim), docs/library.md) under PREFIX.
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf build build-san
