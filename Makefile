# Two commands: `make run` starts the app, `make test` runs the suite.
# Both create .venv on first use and install the pinned requirements.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
TORCH_STAMP := $(VENV)/.installed-torch
PORT ?= 8501
# Any other bind address (make run ADDRESS=0.0.0.0) makes the app ask for a sign-in: README, "Run it on a server".
ADDRESS ?= 127.0.0.1
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: run test setup setup-dev setup-torch browser lint bench jobs clean

run: setup
	$(BIN)/streamlit run server.py --server.address $(ADDRESS) --server.port $(PORT) --server.headless true

test: setup-dev setup-torch browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: $(RUN_STAMP)
setup-dev: $(DEV_STAMP)
# The optional PyTorch member and the FinBERT scorer: not needed to run the app, but their tests are part of `make test`.
setup-torch: $(TORCH_STAMP)

$(VENV)/bin/python:
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else "Python 3.11+ is needed: install python3.11 and run make again")'
	$(PY) -m venv $(VENV)

$(RUN_STAMP): requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

$(TORCH_STAMP): $(RUN_STAMP) requirements-torch.txt
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-torch.txt
	touch $@

# Debian's chromium for the browser tests; they skip with a reason when it cannot be had.
browser:
	@bash scripts/ensure_chromium.sh || true

lint: setup-dev
	$(BIN)/ruff check .

jobs: setup
	$(BIN)/python -m jobs

bench: setup-dev
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-bench.txt
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
