PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SHARED ?= ../shared
STAMP := $(VENV)/.installed

.PHONY: test demo lint typecheck unit conformance bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP) lint typecheck unit conformance

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src

unit: $(STAMP)
	$(PY) -m pytest

conformance: $(STAMP)
	@test -f $(SHARED)/conformance/run.py || { echo "conformance corpus missing at $(SHARED)/conformance"; exit 1; }
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) $(SHARED)/conformance/run.py \
		--serve "legato serve --host 127.0.0.1 --port {port} --data-dir {data_dir} --functions {functions} --clock virtual" \
		--expected-failures conformance/expected-failures.txt

demo: $(STAMP)
	$(VENV)/bin/legato demo aggregator

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info
