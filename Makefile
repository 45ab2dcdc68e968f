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

# Debian packages: Graphviz's `dot` renders graph pictures (tests draw SVG/PNG with it),
# the IPAex Gothic font draws Japanese text in pictures, and Chromium runs the browser
# tests (Playwright drives /usr/bin/chromium; no browser is ever downloaded).
system-deps:
	@missing=""; command -v dot >/dev/null 2>&1 || missing="$$missing graphviz"; \
	fc-list 2>/dev/null | grep -qi ipaexg || missing="$$missing fonts-ipaexfont-gothic"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y $$missing; \
	  else echo "note: install these Debian packages for pictures: sudo apt-get install -y$$missing"; fi; \
	fi

install: $(VENV)/.stamp-install

install-test: $(VENV)/.stamp-test system-deps

run: install system-deps
	$(VENV)/bin/torchground train

test: install-test
	$(PY) -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache
