# Two commands on a fresh machine: `make run` (the whole workflow) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CLUSTER := $(VENV)/cluster
# snakefmt calls shfmt, which lives in the venv's bin
export PATH := $(CURDIR)/$(BIN):$(PATH)

# The dashboard's browser test drives Debian's Chromium (playwright, pinned in requirements.txt,
# talks to the system browser; no browser download). Installed here when missing; another
# Chromium (macOS, a snap): make test CHROMIUM=/path/to/chromium
CHROMIUM ?= /usr/bin/chromium
export CHROMIUM
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint dag report clean-outputs browser

$(BIN)/.installed: requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 (requirements.txt is pinned for it), or name it: make PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	# the corrflow package and command from this checkout (editable: a change to src/ is live)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --cores 4

browser:
	@test -x $(CHROMIUM) || { [ "$(CHROMIUM)" = /usr/bin/chromium ] && command -v apt-get >/dev/null || { \
		echo "error: no Chromium at $(CHROMIUM): make test CHROMIUM=/path/to/chromium"; exit 1; }; \
		echo "installing chromium for the dashboard's browser test"; \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

# The SLURM executor plugin (requirements-cluster.txt) for the tests that run the cluster
# profile: beside the venv, not in it, so the workflow's own Snakemake runs do not import it
# (Snakemake imports every installed executor plugin at start; this one imports pandas)
$(CLUSTER)/.installed: requirements-cluster.txt $(BIN)/.installed
	$(BIN)/pip install --quiet --no-deps --upgrade --target $(CLUSTER) -r requirements-cluster.txt
	touch $@

# -n 2: the suite on both cores (pytest-xdist); loadscope: a module's tests on one worker, so
# a module-scoped fixture (a real run of its own universe) runs once, not once per worker
# (xdist's loadgroup marks are lost under pytest 9); plain `pytest` runs it in one process
test: $(BIN)/.installed $(CLUSTER)/.installed browser
	$(BIN)/python -m pytest -n 2 --dist loadscope

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check .
	$(BIN)/ruff check .

# docs/dag.md: the DAG as Snakemake draws it (mermaid, which GitHub renders); a test checks it
dag: $(BIN)/.installed
	$(BIN)/python tools/write_dag.py docs/dag.md

# Snakemake's report of the last run, as the workflow catalog ships it: report.zip
report: $(BIN)/.installed
	$(BIN)/snakemake --report report.zip

clean-outputs:
	rm -rf data/raw data/processed docs/report.md docs/report_summary.rst docs/report.html report.zip docs/dashboard.html docs/fig_*.png docs/dq_report.* models/*.pkl models/metrics.json logs .snakemake
