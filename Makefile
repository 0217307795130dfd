# The README's two commands: `make bench` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SIZE ?= small
BENCH_OUT ?= out/bench-$(SIZE)

# Implementations that cannot share .venv get their own: impls/NAME/requirements.txt
# becomes .venv-NAME, where harness/environments.py looks (DLBENCH_ENVS moves them).
ENVS := $(patsubst impls/%/requirements.txt,%,$(wildcard impls/*/requirements.txt))
DLBENCH_ENVS ?= $(CURDIR)

.PHONY: venv envs browser postgres bench test test-rebuild test-fast lint clean dlib dlib-optional dlib-builtin

venv: $(STAMP) dlib-optional

# torch goes in first, pinned to the CPU build on disk: anything that pulls a
# plain "torch" later is then already satisfied instead of fetching CUDA wheels.
# TensorFlow (CPU build) comes after, resolved together with the project so pip
# picks one NumPy that both frameworks and the harness accept; pip check says if not.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -e ".[torch,tensorflow,test]"
	$(BIN)/python -m pip check
	rm -f $(VENV)/.installed-*
	touch $@

# dlib's C++ bridge (impls/dlib/build.py): apt-get installs libdlib-dev, OpenBLAS and
# pybind11 where missing, then compiles with -O3 -march=native into build/dlib.
dlib: $(STAMP)
	$(BIN)/python -m impls.dlib.build

# What venv, test and bench run: where the bridge cannot be built, the rest still runs
# and dlib's cells say why they are unsupported.
dlib-optional: $(STAMP)
	@$(BIN)/python -m impls.dlib.build || echo "dlib build: not built; dlib's cells will be unsupported (fix: make dlib)"

# dlib compiled from source without any BLAS, for benchmarks/dlib_blas.py's comparison.
dlib-builtin: $(STAMP)
	$(BIN)/python -m impls.dlib.build --variant builtin

# Debian's chromium, for the tests that open the HTML report in a browser.
browser:
	@scripts/install_browser.sh

# Debian's postgresql, for the database tests' throwaway server (tests/postgres.py).
postgres:
	@scripts/install_postgres.sh

# A framework whose environment cannot be set up leaves its cells `unsupported`
# (the reason names the command to retry); the rest of the suite still runs.
envs:
	@for e in $(ENVS); do $(MAKE) --no-print-directory env-$$e || \
	    echo "WARNING: .venv-$$e is not set up; $$e's cells will be unsupported (retry: make env-$$e)" >&2; done

env-%: $(DLBENCH_ENVS)/.venv-%/.installed ;

.PRECIOUS: $(DLBENCH_ENVS)/.venv-%/.installed
$(DLBENCH_ENVS)/.venv-%/.installed: impls/%/requirements.txt scripts/make_env.sh
	PYTHON=$(PYTHON) scripts/make_env.sh $* $(@D)
	touch $@

# The run, then its table and the self-contained HTML report (the path is the last line).
bench: venv envs
	rm -rf $(BENCH_OUT)
	$(BIN)/dlbench run --size $(SIZE) --out $(BENCH_OUT) --quiet
	$(BIN)/dlbench report $(BENCH_OUT) --html $(BENCH_OUT)/report.html

# Everything but the rebuilds from nothing (test-rebuild: CI runs both). Under 10 minutes here.
test: venv envs browser postgres lint
	$(BIN)/python -m pytest -q -m "not rebuild"

# MXNet's environment and dlib's bridge built from nothing, by the project's own commands.
test-rebuild: venv envs
	$(BIN)/python -m pytest -q -m rebuild

# ruff (configured in pyproject.toml, pinned there): lint, and the format as committed.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The edit-test loop: everything but the marked slow parts (pyproject.toml's markers), on
# .venv alone: no MXNet environment, no dlib bridge, no browser, no PostgreSQL server.
# Under a minute here.
FAST_LANE := not (env or bridge or browser or slow or postgres or rebuild)
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "$(FAST_LANE)"

clean:
	rm -rf $(VENV) $(addprefix .venv-,$(ENVS)) out .pytest_cache build/dlib build/dlib-builtin
