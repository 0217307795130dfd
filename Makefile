# The README's two commands: `make bench` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SIZE ?= small
BENCH_OUT ?= out/bench-$(SIZE)

.PHONY: venv browser bench test clean dlib dlib-optional dlib-builtin

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

# The run, then its table and the self-contained HTML report (the path is the last line).
bench: venv
	rm -rf $(BENCH_OUT)
	$(BIN)/dlbench run --size $(SIZE) --out $(BENCH_OUT) --quiet
	$(BIN)/dlbench report $(BENCH_OUT) --html $(BENCH_OUT)/report.html

test: venv browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out .pytest_cache build/dlib build/dlib-builtin
