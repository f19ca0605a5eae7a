# batpass — the two commands a newcomer needs are `make demo` and `make test`.
# Each target creates .venv and installs what it needs on first use. Recipes are silent.
SHELL := /bin/bash
.SILENT:
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= demo-out
NODE ?=
BENCH ?=
PYTEST_ARGS ?=
# the suite runs on this many worker processes (pytest-xdist; 0 runs it in this process)
TEST_WORKERS ?= 2

.PHONY: help venv demo test fuzz bench serve lint services system-deps messages image

help:
	echo "make demo   - run the EU/JP demo federation (HTTPS on loopback) and serve it; Ctrl-C stops"
	echo "make test   - run the whole test suite (starts PostgreSQL if it is down)"
	echo "make fuzz   - schemathesis against every node kind's API with a long budget (not part of make test)"
	echo "make bench  - print the benchmark figures (BENCH=name for one script)"
	echo "make serve NODE=name - serve one node"
	echo "make lint   - ruff (lint + format), mypy strict and the import contracts (make test runs it first)"
	echo "make messages - bring the pages' translation catalogues up to date; lists what is untranslated"
	echo "make image  - the node image batpass:local (Debian base and wheelhouse built here; deploy/README.md)"

# the modules Cython compiles (src/batpass/_compiled.py) are built in place by the editable
# install, so a change to one of them or to the C declarations beside them (.pxd) installs again
# (or the compiled module would be stale)
COMPILED_SRC := $(shell $(PYTHON) -c "import ast,pathlib;t=ast.parse(pathlib.Path('src/batpass/_compiled.py').read_text());print(*[f'src/{m.replace(chr(46),chr(47))}.py' for n in t.body if isinstance(n,ast.Assign) and n.targets[0].id=='COMPILED' for m in ast.literal_eval(n.value)])")

$(STAMP): pyproject.toml requirements/constraints.txt setup.py src/batpass/_compiled.py $(COMPILED_SRC) $(wildcard src/batpass/*/*.pxd)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip >$(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log >&2; exit 1; }
	$(PY) -m pip install -q --disable-pip-version-check -c requirements/constraints.txt -e '.[dev]' >$(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log >&2; exit 1; }
	touch $(STAMP)

venv: $(STAMP)

messages: $(STAMP)
	$(PY) -m batpass.web._catalogue

services:
	bash scripts/ensure-postgres.sh

# the container engine too (tests/deploy): outside CI a machine without one skips those tests
system-deps:
	bash scripts/ensure-system-deps.sh
	bash scripts/ensure-docker.sh || [ "$${CI:-}" != true ]

# rebuilt only when the wheelhouse (sources, pinned dependencies) or the Dockerfile changed
image: $(STAMP)
	bash scripts/build-image.sh >/dev/null

demo: $(STAMP)
	$(PY) -m batpass demo --out $(OUT)

test: $(STAMP) services system-deps lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# the suite's schemathesis run (tests/conformance/test_node_openapi_fuzz.py) with a long budget:
# every coverage-phase case, FUZZ_EXAMPLES hypothesis cases per operation, FUZZ_SECONDS per node
# kind and key state; the totals (and every failure's curl) go to $(FUZZ_REPORT). Then the tamper
# matrix's column sweep: a value of no column type in every column of its store, no server error
FUZZ_EXAMPLES ?= 200
FUZZ_SECONDS ?= 600
FUZZ_REPORT ?= test-artifacts/fuzz.jsonl
fuzz: $(STAMP)
	mkdir -p $(dir $(FUZZ_REPORT)) && rm -f $(FUZZ_REPORT)
	BATPASS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) BATPASS_FUZZ_SECONDS=$(FUZZ_SECONDS) BATPASS_FUZZ_COVERAGE=1000000 \
	  BATPASS_FUZZ_REPORT=$(abspath $(FUZZ_REPORT)) \
	  $(PY) -m pytest -p no:cacheprovider -o timeout=0 -s -q tests/conformance/test_node_openapi_fuzz.py $(PYTEST_ARGS)
	BATPASS_COLUMN_SWEEP=1 $(PY) -m pytest -p no:cacheprovider -o timeout=0 -s -q \
	  tests/property/test_tamper_matrix.py::test_a_value_of_another_type_in_any_column_is_never_a_server_error

bench: $(STAMP) services
	if [ -n "$(BENCH)" ]; then \
	  test -f benchmarks/$(BENCH).py || { echo "no benchmark benchmarks/$(BENCH).py" >&2; exit 2; }; \
	  $(PY) benchmarks/$(BENCH).py; \
	else \
	  for f in benchmarks/*.py; do $(PY) "$$f" || exit $$?; done; \
	fi

serve: $(STAMP)
	test -n "$(NODE)" || { echo "usage: make serve NODE=name" >&2; exit 2; }
	$(PY) -m batpass serve --node $(NODE)

# any finding fails: ruff (lint and format), mypy strict, the import contracts (.importlinter)
lint: $(STAMP)
	$(VENV)/bin/ruff check --quiet src tests benchmarks
	$(VENV)/bin/ruff format --check --quiet src tests benchmarks
	$(VENV)/bin/mypy --no-error-summary
	$(VENV)/bin/lint-imports --no-cache >$(VENV)/lint-imports.log 2>&1 || { cat $(VENV)/lint-imports.log >&2; exit 1; }
