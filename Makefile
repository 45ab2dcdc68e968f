# torchground: `make run` sets up and runs the main job, `make test` sets up and runs the tests.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: run test install install-test system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned, so the package's `torch>=2.4` is already satisfied by the CPU build.
$(VENV)/.stamp-install: $(PY) pyproject.toml
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-install
	$(PIP) install -e '.[test]'
	touch $@

# Graphviz's `dot` (Debian package) renders graph pictures; tests draw SVG/PNG with it.
system-deps:
	@command -v dot >/dev/null 2>&1 || { apt-get update && apt-get install -y graphviz; }

install: $(VENV)/.stamp-install

install-test: $(VENV)/.stamp-test system-deps

run: install
	$(VENV)/bin/torchground train

test: install-test
	$(PY) -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
