# faultlab: `make demo` runs the offline default study, `make test` runs the tests.
# Both install into .venv first when needed (idempotent: a second `make install` does nothing).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FAULTLAB := $(VENV)/bin/faultlab

STUDIES := $(basename $(notdir $(wildcard experiments/*.yaml)))
WORKERS ?= 2

.PHONY: install test test-all lint demo bench clean $(addprefix study-,$(STUDIES)) $(addprefix report-,$(STUDIES))

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt torch torchvision
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# One pytest-xdist worker per core (at most 4), each on one torch thread (tests/conftest.py); a test file stays on one
# worker (--dist loadfile), so its module fixtures (trained models, swept stores) are built once.
test: install
	$(PY) -m pytest -q -n auto --maxprocesses 4 --dist loadfile

test-all: install
	$(PY) -m pytest -q -m ''

lint: install
	$(VENV)/bin/ruff check .

# The offline default study, start to PDF: train its seeds in looks until its declared contrasts are decided
# (experiments/demo.yaml's sequential: block), run the campaigns, write reports/demo.pdf.
demo: install
	$(FAULTLAB) sweep experiments/demo.yaml --workers $(WORKERS) --until-decided
	$(FAULTLAB) report demo

# make study-<name>: run experiments/<name>.yaml into results/<name>.sqlite, then its report. A study with a
# sequential: block trains its seeds in stages until its primary contrasts are decided (--until-decided).
$(addprefix study-,$(STUDIES)): study-%: install
	$(FAULTLAB) sweep experiments/$*.yaml --workers $(WORKERS) $(if $(shell grep -s '^sequential:' experiments/$*.yaml),--until-decided)
	$(FAULTLAB) report $*

# make report-<name>: (re)render reports/<name>.pdf and the CSV tables from the stored rows.
$(addprefix report-,$(STUDIES)): report-%: install
	$(FAULTLAB) stats $*
	$(FAULTLAB) report $*

bench: install
	cd benchmarks && ../$(PY) train_throughput.py
	cd benchmarks && ../$(PY) campaign_throughput.py
	cd benchmarks && ../$(PY) fat_overhead.py
	cd benchmarks && ../$(PY) per_layer_throughput.py
	cd benchmarks && ../$(PY) stacked_campaign.py
	cd benchmarks && ../$(PY) cli_startup.py

clean:
	rm -rf runs results lightning_logs .pytest_cache .ruff_cache benchmarks/results
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
