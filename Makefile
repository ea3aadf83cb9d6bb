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

.PHONY: venv book notebooks mathjax bwrap chromium test test-tf test-jax test-book bench lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

book: venv mathjax
	KERAS_BACKEND=tensorflow $(BIN)/jupyter-book build --path-output . .

# Colab and Binder open the paired .ipynb beside each chapter's .md (rewritten
# from the .md, with the install cell first; tests/test_launch.py checks them).
# The assignments' setup cells get the same install lines, then are re-released.
notebooks: venv
	$(PY) scripts/notebooks.py
	$(PY) -m grading release

# MathJax 3 from the npm registry, served from the book so maths renders offline.
# Kept: tex-chtml.js and the parts it loads on demand (TeX extensions, fonts,
# menu, accessibility); dropped: the other combined bundles. Git-ignored, ~10 MB.
# Fetched with `npm pack` (Node.js is needed to build the book) and checked against
# the pinned SHA-256.
MATHJAX_VERSION := 3.2.2
MATHJAX_SHA256 := 1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
MATHJAX_DIR := book/_static/mathjax
MATHJAX_TMP := _build/mathjax-npm
MATHJAX_TGZ := $(MATHJAX_TMP)/mathjax-$(MATHJAX_VERSION).tgz
mathjax: $(MATHJAX_DIR)/tex-chtml.js

$(MATHJAX_DIR)/tex-chtml.js:
	scripts/system-packages.sh npm
	rm -rf $(MATHJAX_TMP) $(MATHJAX_DIR)
	mkdir -p $(MATHJAX_TMP) $(dir $(MATHJAX_DIR))
	npm pack --silent --pack-destination $(MATHJAX_TMP) mathjax@$(MATHJAX_VERSION) >/dev/null
	echo "$(MATHJAX_SHA256)  $(MATHJAX_TGZ)" | sha256sum -c --quiet
	tar -xzf $(MATHJAX_TGZ) -C $(MATHJAX_TMP)
	cd $(MATHJAX_TMP)/package/es5 && find . -maxdepth 1 -name '*.js' ! -name tex-chtml.js -delete
	cp $(MATHJAX_TMP)/package/LICENSE $(MATHJAX_TMP)/package/es5/LICENSE
	mv $(MATHJAX_TMP)/package/es5 $(MATHJAX_DIR)
	rm -rf $(MATHJAX_TMP)

# The grader sandboxes student kernels with bubblewrap (Debian package): installed
# with apt when run as root, otherwise the exact command is printed.
bwrap:
	scripts/system-packages.sh bwrap

# tests/browser.py opens the built book in Debian's headless chromium (Playwright
# drives it; no browser is downloaded).
chromium:
	scripts/system-packages.sh chromium

# Two pytest workers, one test file each (module fixtures are not duplicated): the
# grading tests wait on kernels and subprocesses, so two files share the cores well
# (779 tests: 601 s here with -n 2). The book build is one process, run alone.
test: venv mathjax bwrap chromium lint
	$(PY) -m pytest tests -m "not book" -n 2 --dist loadfile
	KERAS_BACKEND=jax $(PY) -m pytest tests/sparsekit -n 2 --dist loadfile
	$(PY) -m pytest tests -m book

bench: venv
	$(PY) -m benchmarks

lint: venv
	$(BIN)/ruff check sparsekit tests benchmarks grading scripts nbgrader_config.py
	$(BIN)/ruff format --check sparsekit tests benchmarks grading scripts nbgrader_config.py

clean:
	rm -rf _build .pytest_cache
