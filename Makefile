# Every target bootstraps its own environment in .venv (created or refreshed when pyproject.toml changes).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench-gray clean

$(STAMP): pyproject.toml src/tinct/methods/levin/_fronts.c
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## demo: colorize a sample photo with the bundled default model; prints where the result is
demo: $(STAMP)
	$(BIN)/tinct demo --out-dir out

## test: ruff + the test suite (slow checks excluded)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) out .pytest_cache
