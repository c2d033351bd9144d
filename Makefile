# Two set-up commands: `make demo` (main job on the embedded default) and `make test`.
# Both create .venv in the repo on first use; each installs what it needs (its own stamp, redone
# when pyproject.toml changes), so `make demo` then `make test` installs only the difference.
# The demo needs the service and the scene generator (the `scenes` extra); the tests need the test
# tools (`dev`) and training (`train`, which includes `scenes`). `pip install .` alone serves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=
# `make test` runs the suite on two pytest-xdist workers; tests that share a broker's queues or the
# five-host bed keep to one worker each (xdist_group, tests/conftest.py). `TEST_WORKERS=0` runs it
# in one process. The last whole runs on this 2-core machine: bench/results/test_suite_parallel.md
# (two workers) and test_suite.md (one process); the tests that failed only under two workers'
# load now wait on what they check, not on fixed times (issue 71).
TEST_WORKERS ?= 2

.PHONY: install demo test test-clip lint format bench clean

# PyPI's torch for Linux is the CUDA build (about 3 GB of nvidia-* packages). On a machine without
# an NVIDIA GPU the venv starts with a CPU-only build when the package index has one (this
# project's machines have $(TORCH_CPU) beside the index); then `pip install -e .` keeps it, as it
# satisfies torch>=2.2. A GPU machine, or one whose index has no CPU build, gets the default.
TORCH_CPU ?= torch==2.13.0+cpu

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1; then echo "GPU found: PyTorch's CUDA build"; \
	elif $(BIN)/python -m pip install -q "$(TORCH_CPU)" >/dev/null 2>&1; then \
	  echo "no GPU: installed the CPU-only $(TORCH_CPU)"; \
	else echo "no GPU, but the package index has no $(TORCH_CPU): PyTorch's default build"; fi

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[scenes]"
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev,train,export]"
	touch $@

# The open_clip family (`anyseek[clip]`) needs torchvision, whose PyPI wheels need PyPI's default
# (CUDA) torch; that runs on a CPU, but it is 5.6 GB and would break `make test`'s CPU-only venv.
# So its tests get their own venv with PyPI's default torch, and `make test` skips them.
CLIP_VENV := .venv-clip
CLIP_STAMP := $(CLIP_VENV)/.installed-clip

$(CLIP_STAMP): pyproject.toml
	test -x $(CLIP_VENV)/bin/python || $(PYTHON) -m venv $(CLIP_VENV)
	$(CLIP_VENV)/bin/python -m pip install -q --upgrade pip
	$(CLIP_VENV)/bin/python -m pip install -q -e ".[clip,dev]"
	touch $@

install: $(TEST_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/anyseek demo

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_ARGS)

test-clip: $(CLIP_STAMP)
	$(CLIP_VENV)/bin/python -m pytest -m clip tests/model/families/openclip $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(TEST_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(CLIP_VENV) .pytest_cache .ruff_cache
