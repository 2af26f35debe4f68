# Quick start: `make run` and `make test`. Everything is installed into .venv from constraints.txt.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup run test test-all lint bench search matrix clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[torch,tensorflow,bfloat16,onnx,openvino,export,litert,jax,opencv,pillow,ray,analysis,test]'
	@touch $(STAMP)

# two frameworks at a time on the 2-core reference machine (each worker then gets one thread); --jobs 1
# gives timings without contention
RUN_ARGS ?= --jobs 2
run: setup
	$(BIN)/upconform run $(RUN_ARGS) --out reports/latest

test: setup
	$(BIN)/python -m pytest -q -m "not slow" tests upconform

test-all: setup
	$(BIN)/python -m pytest -q tests upconform

lint: setup
	$(BIN)/ruff check upconform tests bench

# the reference-vs-PyTorch timings, then the scaling benchmarks (specs/bench/, under 5 minutes on 2 cores):
# time against bytes moved per binding, the memory bandwidth measured at run time, paired ratios; a table
# is printed and reports/bench/index.html drawn; then the Ray executor's overhead on the default suite
# (two more default-suite runs, about 4 minutes; BENCH_EXECUTOR=0 skips it)
BENCH_ARGS ?=
BENCH_EXECUTOR ?= 1
bench: setup
	$(BIN)/python bench/bench_reference.py
	$(BIN)/upconform bench $(BENCH_ARGS) --out reports/bench
	@if [ "$(BENCH_EXECUTOR)" != 0 ]; then $(BIN)/python bench/bench_executor.py; fi

# A fixed-seed search of every built-in binding, sized for CI (2 cores, under 3 minutes); exit 1 on
# a finding that specs/expectations.yaml does not cover. Findings in reports/search/.
SEARCH_ARGS ?= --seed 0 --max-examples 100 --budget-s 150
search: setup
	$(BIN)/upconform search $(SEARCH_ARGS) --out reports/search

# The default suite under two PyTorch and two TensorFlow versions (matrix.yaml), compared: what changed,
# in reports/matrix/. Creates each environment once (torch 2.14.1 is a CUDA build of several GB), cached
# in ~/.cache/upconform/envs. Exit 1 when a verdict got worse in a newer version.
MATRIX_ARGS ?= --file matrix.yaml --jobs 2
matrix: setup
	$(BIN)/upconform matrix $(MATRIX_ARGS) --out reports/matrix

clean:
	rm -rf $(VENV) reports/latest .pytest_cache .hypothesis
