# Every target creates the virtual environment itself, so a fresh clone needs only
# `make book` or `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
EXTRAS := cpu,jax,book,grading,dev
export TF_CPP_MIN_LOG_LEVEL ?= 2
export TF_ENABLE_ONEDNN_OPTS ?= 0
# nbgrader calls the `alembic` executable, and jupyter-book its kernels, from PATH.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: venv book test test-tf test-jax test-book bench lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

book: venv
	$(BIN)/jupyter-book build --path-output . .

test: venv
	$(PY) -m pytest tests -m "not book"
	KERAS_BACKEND=jax $(PY) -m pytest tests/sparsekit
	$(PY) -m pytest tests -m book

bench: venv
	$(PY) -m benchmarks

lint: venv
	$(BIN)/ruff check sparsekit tests benchmarks
	$(BIN)/ruff format --check sparsekit tests benchmarks

clean:
	rm -rf _build .pytest_cache
