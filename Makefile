# torchground: `make run` sets up and runs the main job, `make test` sets up and runs the tests
# (`make test-fast`: all but the slow, browser, GPU and notebook tests).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: run test test-wheel test-fast test-blas-paths install install-test system-deps system-deps-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned, so the package's `torch>=2.4` is already satisfied by the CPU build.
$(VENV)/.stamp-install: $(PY) pyproject.toml
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

# The fused C kernels of the common shapes (`torchground warmup`), so that a first `sweep` or
# `train --engine fast` finds them built: again whenever the kernels' sources change (their
# cache names do); without a C compiler that is left.
KERNEL_SOURCES := $(wildcard src/torchground/engine/kernels/*.c) src/torchground/engine/kernels/rules.py \
                  src/torchground/engine/kernels/rule_text.py src/torchground/engine/kernels/build_cache.py
$(VENV)/.stamp-warm: $(VENV)/.stamp-install $(KERNEL_SOURCES)
	$(VENV)/bin/torchground warmup || echo "note: no fused kernels were built ahead (see above); without a C compiler the engine trains on its eager steps"
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-install
	$(PIP) install -e '.[test]'
	touch $@

# Debian packages, installed once when missing (as root; otherwise the apt-get line is
# printed): Graphviz's `dot` renders graph pictures, the IPAex Gothic font draws Japanese
# text in pictures, and (for the tests) Chromium runs the browser tests — Playwright drives
# /usr/bin/chromium, no browser is ever downloaded.
define apt_missing
	@missing=""; for item in $(1); do \
	  pkg=$${item%%:*}; probe=$${item#*:}; sh -c "$$probe" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y $$missing; \
	  else echo "note: install these Debian packages: sudo apt-get install -y$$missing"; fi; \
	fi
endef
RUN_APT  := "graphviz:command -v dot" "fonts-ipaexfont-gothic:fc-list | grep -qi ipaexg"
TEST_APT := $(RUN_APT) "chromium:test -x /usr/bin/chromium" "chromium-driver:command -v chromedriver"

system-deps:
	$(call apt_missing,$(RUN_APT))

system-deps-test:
	$(call apt_missing,$(TEST_APT))

install: $(VENV)/.stamp-install

install-test: $(VENV)/.stamp-test system-deps-test

run: install system-deps $(VENV)/.stamp-warm
	$(VENV)/bin/torchground serve

# Two worker processes, a test file each at a time (pytest-xdist): many tests wait on a
# subprocess, a server or a browser, so two keep a small machine's cores busy. The tests that
# start Ray instances run after, in one process: two Ray instances at once starve each other.
test: install-test
	$(PY) -m pytest -n 2 --dist loadfile -m "not ray"
	$(PY) -m pytest -q -m ray tests/engine/sweep
	$(MAKE) test-blas-paths
	$(MAKE) test-wheel

# The package as a user gets it: the wheel built, installed in a fresh virtual environment
# (torch first, pinned, from pip's local copy), then `torchground train --epochs 2`,
# `python -m torchground --version` and a short `serve` start from it (.ci/wheel_smoke.py).
WHEEL_DIR := build/wheel-test
test-wheel: install
	rm -rf $(WHEEL_DIR) && mkdir -p $(WHEEL_DIR)/run
	$(PIP) wheel --no-deps --no-build-isolation -q -w $(WHEEL_DIR) .
	$(PYTHON) -m venv $(WHEEL_DIR)/venv
	$(WHEEL_DIR)/venv/bin/pip install -q torch==2.13.0
	$(WHEEL_DIR)/venv/bin/pip install -q $(WHEEL_DIR)/torchground-*.whl
	cd $(WHEEL_DIR)/run && ../venv/bin/python $(CURDIR)/.ci/wheel_smoke.py

# The inner loop: everything but the tests marked slow, browser, gpu or notebook
# (pyproject.toml lists the markers; `make test` and .ci/run still run them all).
test-fast: install-test
	$(PY) -m pytest -q -m "not slow and not browser and not gpu and not notebook"

# The engine-vs-trainer agreement tests under each of MKL's code paths (README: "Reliability
# and security"): exact agreement under COMPATIBLE, the stated promise for chaotic cases on all.
BLAS_PATHS ?= COMPATIBLE AVX2 AVX512
test-blas-paths: install-test
	@for path in $(BLAS_PATHS); do \
	  echo "agreement tests with MKL_CBWR=$$path"; \
	  MKL_CBWR=$$path $(PY) -m pytest -q -p no:cacheprovider tests/engine/test_engine.py || exit 1; \
	done

clean:
	rm -rf $(VENV) runs .pytest_cache
