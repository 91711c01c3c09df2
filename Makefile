# hybrid_deblur — every target works on a fresh machine by itself.
# torch 2.13.0 (CPU wheel) is installed FIRST so that no CUDA wheels are ever pulled.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
STAMP   = $(VENV)/.installed
DATA   ?= ../shared/data
JOBS   ?= 2

.PHONY: install test demo bench notebooks lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(JOBS) --dist loadfile tests

demo: $(STAMP)
	$(VENV)/bin/hybrid-deblur demo --out demo_out

notebooks: $(STAMP)
	$(PIP) install -q -e ".[dev,notebooks]"
	$(PY) -m pytest -q tests/test_notebooks.py

lint: $(STAMP)
	$(VENV)/bin/ruff check hybrid_deblur tests benchmarks

clean:
	rm -rf $(VENV) demo_out build *.egg-info .pytest_cache
