# callmonitor: `make demo` and `make test` work on a fresh Debian 12 machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# python3-venv: Debian's python3 makes no virtual environment without it (ensurepip).
# curl: a real HTTP client's Basic authentication against the supervisor console (tests/test_supervisor.py)
# fonts-nanum: a Korean font, which the report's picture draws Hangul in (tests/test_report.py)
# baresip: a real softphone for tests/test_softphone.py (Debian ships its PulseAudio module in baresip-x11)
# locales: the German locale tests/test_robust_live.py makes, in which pactl speaks German
APT_PACKAGES := python3-venv libportaudio2 libasound2-plugins pulseaudio pulseaudio-utils espeak-ng sox \
                dbus libnotify-bin dunst xvfb chromium curl fonts-nanum baresip-core baresip-x11 locales
STAMP := $(VENV)/.installed

.PHONY: setup system-packages test typecheck bench demo fixtures eval-corpus eval tune limits dist clean

setup: system-packages $(STAMP)

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q " ok installed$$" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "Installing system packages:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "Missing system packages. Run:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$$missing"; \
	    exit 1; \
	  fi; \
	fi

# After the system packages' check (order only: it changes nothing the stamp is newer than), so that
# no venv or pip install begins while packages are missing, not even under make -j or -k.
$(STAMP): pyproject.toml monitor/release.py | system-packages
	@# monitor/release.py: a new release's number goes into the installed package's metadata too.
	@# A venv left without pip (made before python3-venv was installed) is made again.
	$(PY) -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

EVAL_DIR := audio_fixtures/generated/eval
EVAL_JOBS ?= $(shell nproc)
# Draws of the corpus design (tools/eval_corpus.py --replicates): each adds 240 calls with new seeds.
EVAL_REPLICATES ?= 2

fixtures: setup
	$(PY) tools/make_fixtures.py audio_fixtures
	$(PY) -m tools.eval_corpus audio_fixtures/generated/eval_slice --slice -j $(EVAL_JOBS)

# The evaluation corpus (make eval): generated once, regenerated only where its inputs changed.
eval-corpus: setup
	$(PY) -m tools.eval_corpus $(EVAL_DIR) --replicates $(EVAL_REPLICATES) -j $(EVAL_JOBS)

# Detection figures on both halves of the corpus; the test half's are the ones that count.
eval: eval-corpus
	$(PY) -m tools.evaluate $(EVAL_DIR) --split all -j $(EVAL_JOBS) --json eval_results.json

# Thresholds chosen on the tuning half only (the grid lists the values tried); prints the test half.
tune: eval-corpus
	$(PY) -m tools.tune $(EVAL_DIR) --grid tools/eval_data/grid.toml -j $(EVAL_JOBS) --json tune_results.json

# Each rule cue's typical value and absolute limit as the tuning half's healthy calls measure them,
# with a grid of the limits at several quantiles for a fold-robust comparison (make tune's driver).
limits: eval-corpus
	$(PY) -m tools.population_limits $(EVAL_DIR) --split tune --grid limits_grid.toml
	$(PY) -m tools.tune $(EVAL_DIR) --grid limits_grid.toml --folds 2 -j $(EVAL_JOBS) --json limits_results.json

# Three workers on two cores: the real-time tests on the private sound server one after another on
# one, the others beside them at a lower priority (tests/conftest.py); TEST_WORKERS=0 runs everything
# in one process.
TEST_WORKERS ?= 3
test: setup fixtures
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist load tests

# The static check (ruff) and the type checker (mypy) the tests hold the code to (tests/test_static.py).
# Configured in pyproject.toml (docs/development.md).
typecheck: setup
	$(PY) -m ruff check --no-cache monitor tools tests
	$(PY) -m mypy monitor

bench: setup fixtures
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m tools.bench

demo: setup fixtures
	@echo "Replaying a bundled call: a caller whose speech deteriorates after about 75 s."
	$(VENV)/bin/call-monitor replay audio_fixtures/calls/deteriorating_16k.wav --db "$$(mktemp -d)/demo.db"

# The wheel and the source distribution that other machines install (docs/deployment.md, "Installing
# callmonitor"): the wheel built from the source distribution, so that nothing left in build/ by an
# earlier build goes into it.
dist: setup
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) build dist *.egg-info
