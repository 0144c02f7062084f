# Dockyard: `make up` installs and starts everything; `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := up

VENV       := .venv
PY         := $(VENV)/bin/python
BIN_DIR    := /usr/local/bin
SOCKET     := /run/dockyard.sock
DATA_ROOT  := /var/lib/dockyard
LOG        := /var/log/dockyardd.log
PIDFILE    := /run/dockyardd.pid
# What the engine needs from the system: busybox for the offline base image, iproute2 and
# iptables for networking, Python's venv module for the install, crun as the reference runtime,
# tini for --init, mmdebstrap for `dockyard catalog` (images built from Debian packages).
APT_PACKAGES      := busybox-static iproute2 iptables nftables python3-venv crun tar tini mmdebstrap
# What the tests add: a real registry (CNCF distribution) with htpasswd auth and TLS for pull/push,
# Docker's own daemon (and its runc) for the interoperability and runtime tests, a C compiler
# for the seccomp probe; skopeo as a third registry client for the registry server; etcd for the
# swarm store's contract tests (and the managers' members).
APT_TEST_PACKAGES  := docker-registry apache2-utils openssl docker.io gcc libc6-dev skopeo docker-compose etcd-server etcd-client
# What the benchmarks add: Docker's own daemon to compare against, a registry to pull from.
APT_BENCH_PACKAGES := docker.io docker-registry skopeo apache2-utils docker-compose
# bench-<name> runs bench/<name, dashes as underscores>; `make bench` runs bench/run_latency.
BENCHES       := lifecycle pull save-load commit ports build netfilter registry compose machine mesh mesh-overlay mesh-machines swarm
BENCH_SCRIPTS := bench/run_latency $(addprefix bench/,$(subst -,_,$(BENCHES)))

# Install the Debian packages named in $(1) that are missing, saying which ($(2)).
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing $(2) packages:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
endef

.PHONY: catalog test-catalog conformance conformance-docker compose-conformance compose-conformance-docker compose-conformance-packages up test fuzz test-packages bench-packages system-packages venv install start image hello lint bench \
	$(addprefix bench-,$(BENCHES)) clean

up: install start image hello

system-packages:
	$(call apt_install,$(APT_PACKAGES),system)

$(VENV)/.installed: pyproject.toml
	/usr/bin/python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test,compose,machine,cluster]'
	# Byte-code up front: with PYTHONDONTWRITEBYTECODE set, every CLI call would recompile (~11 ms).
	$(PY) -m compileall -q src
	touch $@

venv: system-packages $(VENV)/.installed

install: venv
	ln -sf $(CURDIR)/$(VENV)/bin/dockyard $(BIN_DIR)/dockyard
	ln -sf $(CURDIR)/$(VENV)/bin/dockyardd $(BIN_DIR)/dockyardd
	ln -sf $(CURDIR)/$(VENV)/bin/dockyard-compose $(BIN_DIR)/dockyard-compose

start: install
	@if dockyard -H unix://$(SOCKET) version >/dev/null 2>&1; then \
		echo "dockyardd is already running on $(SOCKET)"; \
	else \
		echo "starting dockyardd (log: $(LOG))"; \
		setsid nohup dockyardd -H unix://$(SOCKET) --data-root $(DATA_ROOT) --pidfile $(PIDFILE) \
			>>$(LOG) 2>&1 < /dev/null & \
		for i in $$(seq 100); do [ -S $(SOCKET) ] && break; sleep 0.1; done; \
		dockyard -H unix://$(SOCKET) version >/dev/null; \
	fi

image: start
	@dockyard -H unix://$(SOCKET) image inspect busybox:latest >/dev/null 2>&1 || \
		tools/busybox-rootfs | dockyard -H unix://$(SOCKET) import -c 'CMD ["sh"]' - busybox:latest

hello: image
	dockyard -H unix://$(SOCKET) run --rm busybox echo "hello from dockyard"
	@echo "More images (debian, python, nginx, redis, postgres, httpd, registry), built here from Debian"
	@echo "packages in a few minutes:  dockyard catalog build --all   (then see docs/guide.md)"

# Every catalog image, built from Debian packages into the running daemon (see `dockyard catalog ls`).
catalog: start
	dockyard -H unix://$(SOCKET) catalog build --all

test-packages:
	$(call apt_install,$(APT_TEST_PACKAGES),test)

bench-packages:
	$(call apt_install,$(APT_BENCH_PACKAGES),benchmark)

# The suite waits on daemons, etcd and containers far more than it computes: `make test TEST_JOBS=2`
# runs it on two workers (pytest-xdist), each running whole modules (tests/conftest.py: --dist
# loadgroup); about half the time, but the swarm tests on machines still fail under that contention,
# so one process stays the default. Longer variants have targets of their own: test-catalog (the
# catalog's images), test-machines (multi-node, run by CI), fuzz, stress, test-swarm-long.
TEST_JOBS ?= 0
test: venv test-packages
	$(VENV)/bin/ruff check src tests tools/check_imports.py bench $(BENCH_SCRIPTS) conformance/run conformance/compose
	$(VENV)/bin/pytest -q $(if $(filter-out 0,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadgroup)

# The static checks alone, in seconds (make test runs them too): ruff, the layering contract
# (docs/architecture.md), function-level imports hiding a cycle, and the type check.
lint: venv
	$(VENV)/bin/ruff check src tests tools/check_imports.py bench $(BENCH_SCRIPTS) conformance/run conformance/compose
	$(VENV)/bin/lint-imports --no-logo --no-cache
	$(PY) tools/check_imports.py
	$(VENV)/bin/mypy

# Builds every catalog image into a private daemon, checks each one and runs examples/*/run.sh; and
# bootstraps busybox and debian:bookworm-slim afresh (tests/catalog/test_catalog_builds.py).
test-catalog: venv test-packages
	DOCKYARD_TEST_CATALOG=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests/catalog

# The Engine API fuzzed from moby's v1.41 swagger for longer than `make test` does (tests/fuzz).
FUZZ_EXAMPLES ?= 100
fuzz: venv test-packages
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/pytest -q tests/fuzz

# The multi-node tests on `dockyard machine` fleets (tests/conftest.py's MACHINE_MODULES): swarm
# managers and workers, services, the routing mesh and overlays across nodes, the machines
# themselves. About 7 minutes; CI (.ci/run) runs it after make test.
.PHONY: test-machines
test-machines: venv test-packages
	DOCKYARD_TEST_MACHINES=1 $(VENV)/bin/pytest -q -p no:cacheprovider $(addprefix tests/integration/test_,$(addsuffix .py,machines swarm_machines services_machines mesh_machines overlay_machines))

# Swarm recovery across machines (--force-new-cluster on a survivor, old managers rejoining): the
# longer variant of tests/integration/test_swarm_machines.py, beyond `make test`'s time budget.
.PHONY: test-swarm-long
test-swarm-long: venv test-packages
	DOCKYARD_TEST_MACHINES=1 DOCKYARD_TEST_SWARM_LONG=1 $(VENV)/bin/pytest -q tests/integration/test_swarm_machines.py

# The docker-py stress test at ten times the count `make test` runs.
.PHONY: stress
stress: venv test-packages
	DOCKYARD_STRESS_RUNS=$${DOCKYARD_STRESS_RUNS:-5000} $(VENV)/bin/pytest -q --timeout 1800 tests/compat/test_docker_py_stress.py

bench: venv bench-packages
	$(PY) bench/run_latency

# docker-py 7.2.0's integration suite against a private dockyardd (or Docker 20.10: conformance-docker),
# swarm, plugin and Docker Hub tests left out; prints the pass/fail count. Not part of `make test`.
$(VENV)/.conformance: $(VENV)/.installed
	$(VENV)/bin/pip install -q -e '.[test,compose,conformance]'
	touch $@

conformance: venv test-packages $(VENV)/.conformance
	$(PY) conformance/run $(CONFORMANCE_ARGS)

conformance-docker: venv test-packages $(VENV)/.conformance
	$(PY) conformance/run --docker $(CONFORMANCE_ARGS)

# docker-compose 1.29.2's acceptance and integration suites (Debian's docker-compose on Debian's python3,
# with its pytest and ddt) against a private dockyardd (or Docker 20.10: compose-conformance-docker).
compose-conformance-packages:
	$(call apt_install,docker-compose python3-pytest python3-ddt,compose conformance)

compose-conformance: venv test-packages compose-conformance-packages
	$(PY) conformance/compose $(CONFORMANCE_ARGS)

compose-conformance-docker: venv test-packages compose-conformance-packages
	$(PY) conformance/compose --docker $(CONFORMANCE_ARGS)

$(addprefix bench-,$(BENCHES)): bench-%: venv bench-packages
	$(PY) bench/$(subst -,_,$*)

clean:
	rm -rf $(VENV) build src/*.egg-info
