# The two commands of the quickstart: `make demo` and `make test`.
# Both create ./.venv on first use and install what they need (CPU torch first,
# so nothing later pulls a CUDA build).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.seethink-installed
TORCH_VERSION ?= 2.13.0
PRESET ?= quick

.PHONY: demo test lint typecheck setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/seethink demo --preset $(PRESET)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks experiments scripts
	$(MAKE) typecheck

typecheck: $(STAMP)
	$(BIN)/mypy src/seethink

clean:
	rm -rf $(VENV) runs .cache
