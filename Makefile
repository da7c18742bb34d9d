# The README's two commands: `make demo` and `make test`. Each does its own set-up, idempotently.
VENV       ?= .venv
PYTHON     ?= python3
BIN        := $(VENV)/bin
RUN_DEBS   := influxdb mosquitto fonts-dejavu-core
TEST_DEBS  := influxdb mosquitto libcoap3-bin postgresql chromium chromium-driver poppler-utils \
              fonts-dejavu-core

.PHONY: demo test bench lint clean

demo: $(VENV)/.run-installed
	scripts/install-system-deps.sh --optional $(RUN_DEBS)
	$(BIN)/ruong demo $(DEMO_ARGS)

test: $(VENV)/.dev-installed
	scripts/install-system-deps.sh $(TEST_DEBS)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/lint-imports

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || { scripts/install-system-deps.sh python3-venv && \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

# Editable install: `ruong sim` runs the firmware sources from ./firmware; setup.py compiles
# the catalogues of words (backend/locale) on every install.
$(VENV)/.run-installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.run-installed

clean:
	rm -rf $(VENV) ruong-data .pytest_cache
