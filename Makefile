# The two README commands, from a fresh clone with nothing installed but Python 3.10+:
#   make train   set up .venv if needed, then train the smoke experiment and say where it wrote
#   make test    set up .venv if needed, then run the fast test suite (the one CI runs)
# Both are idempotent: the set-up runs again only when .venv is missing or pyproject.toml/setup.py
# changed. People who manage their own environment: README "Long form".

PYTHON ?= python3
VENV ?= .venv
# The CPU build, installed before the project: an unpinned torch would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
RUN_ID ?= smoke
# Extra Hydra overrides for `make train`, e.g. ARGS="trainer.max_epochs=1 data.n_train=600".
ARGS ?=
# Extra pytest arguments (CI adds --durations=15).
PYTEST_ARGS ?=

PY := $(VENV)/bin/python
STAMP := $(VENV)/.receipt-lightning-installed

.PHONY: setup train test

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py
	@echo "==> set-up: $(VENV) with $(TORCH) (CPU) first, then this project with its test extras"
	@test -x $(PY) || { echo "==> creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)
	@echo "==> set-up done: $(VENV) (activate it with: . $(VENV)/bin/activate)"

train: $(STAMP)
	@echo "==> training +experiment=smoke (tiny LayoutLM on synthetic receipts, about 3 min on 2 cores)"
	$(PY) -m receipt_lightning.train +experiment=smoke run_id=$(RUN_ID) $(ARGS)
	@echo "==> results in $${RL_SHARED_ROOT:-outputs}/runs/$(RUN_ID)/: summary.json (metrics), checkpoints/, logs/, config.yaml"
	@echo "==> running it again resumes from the newest checkpoint there; RUN_ID=name starts another run"

test: $(STAMP)
	@echo "==> fast tests (one torch thread per process; the slow end-to-end suite: pytest -m slow)"
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)
