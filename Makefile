# brun-label: the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed by these targets (a venv for the tool, one per local server,
# and Debian's chromium for the report/UI tests); nothing is downloaded at run time.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Local servers' environments, data and state live in $BRUN_LABEL_HOME (default
# ~/.cache/brun-label), the same place `brun-label serve` uses when run by hand.

.PHONY: setup setup-test demo test lint bench stop clean

# The tool itself (enough for the demo).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	touch $@

# Test tools and oracles on top. TRL (and crowd-kit's transformers) need torch: it goes first,
# pinned to the CPU wheel this kind of machine ships on disk, so nothing pulls the CUDA build.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check 'torch==2.13.0'
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	# irrCAC is a GPL test-only oracle that pins scipy==1.12: install it without its pins.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps irrCAC==0.4.4
	$(BIN)/pip install --quiet --disable-pip-version-check 'trl==1.16.0' transformers accelerate
	touch $@

setup: $(VENV)/.installed
	bash scripts/system-deps.sh

setup-test: $(VENV)/.installed-test
	bash scripts/system-deps.sh

## The main job on the embedded default: bundled samples, rubric packs, local servers.
demo: setup
	$(BIN)/brun-label demo

## Lint, type-check and run every test (real Label Studio and Argilla servers included).
test: setup-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

## Benchmarks (on demand; prints ratios against baselines measured in the same run).
bench: setup-test
	$(BIN)/python -m bench.run $(BENCH_ARGS)

stop:
	-$(BIN)/brun-label serve stop all

clean: stop
	rm -rf $(VENV) .brun-label .mypy_cache .ruff_cache .pytest_cache
