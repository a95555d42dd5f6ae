# Two commands on a fresh machine: `make run` (the whole workflow) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# snakefmt calls shfmt, which lives in the venv's bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test lint dag report clean-outputs

$(BIN)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --cores 4

test: $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check .
	$(BIN)/ruff check .

dag: $(BIN)/.installed
	$(BIN)/snakemake --dag mermaid-js > docs/dag.mmd

report: $(BIN)/.installed
	$(BIN)/snakemake --report docs/report.html

clean-outputs:
	rm -rf data/raw data/processed docs/report.md docs/report.html docs/fig_*.png docs/dq_report.* models/*.pkl models/metrics.json logs .snakemake
