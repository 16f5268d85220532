# Two entry points, both bootstrap themselves on a fresh machine:
#   make demo   - the demo against the embedded mock KIS server (no credentials needed)
#   make test   - lint, type check, the docs site and the test suite
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: demo test lint typecheck docs unit bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/quickstart.py
	$(PY) examples/fanout_prices.py
	$(PY) examples/place_order.py
	$(PY) examples/trading_bot.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

# The site goes to site/ (ignored by git); --strict turns a broken link or reference into
# a failure.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

unit: $(STAMP)
	$(PY) -m pytest -q

test: lint typecheck docs unit

bench: $(STAMP)
	$(PY) benchmarks/fanout.py
	$(PY) benchmarks/shared_budget.py
	$(PY) benchmarks/backfill.py
	$(PY) benchmarks/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache site
