# cyborg-lite developer entry points. `make run` and `make test` are the Quick start.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
# tox runs these same targets inside its own environments with `make BIN={envbindir} ...`
# (tox.ini); then tox, not this Makefile, installs the package, so .venv is left alone.
BIN ?= $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SETUP := $(if $(filter $(VENV)/bin,$(BIN)),venv,)
# The one pytest command line: `make test`, `make pytest` and tox's py311 run it as it is.
PYTEST = $(BIN)/pytest -q -p no:cacheprovider
CONF ?=
CONF_ARGS := $(if $(CONF),--config-file $(CONF),)

.PHONY: venv run test pytest quick functional lint types unit genconfig genpolicy bench \
	bench-quick clean

venv: $(STAMP)

# Reinstall only when the package metadata changes; the install is editable.
$(STAMP): setup.cfg pyproject.toml
	# A venv whose pip does not run (an interrupted creation) is made again from scratch.
	$(BIN)/python -m pip --version >/dev/null 2>&1 || $(PY) -m venv --clear $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

run: venv
	$(BIN)/cyborg-lite-manage $(CONF_ARGS) db upgrade
	$(BIN)/cyborg-lite-aio $(CONF_ARGS)

lint: $(SETUP)
	$(BIN)/ruff check cyborg_lite tests benchmarks
	$(BIN)/ruff format --check cyborg_lite tests benchmarks

types: $(SETUP)
	$(BIN)/mypy

test: lint types
	$(PYTEST) tests

# The whole suite without lint and types first (tox's py311 env).
pytest: $(SETUP)
	$(PYTEST) tests

# The inner loop: every test that starts no server process (tests marked `slow` do).
quick: $(SETUP)
	$(PYTEST) -m "not slow" tests

unit: $(SETUP)
	$(PYTEST) tests/unit

functional: $(SETUP)
	$(PYTEST) tests/functional

genconfig: $(SETUP)
	$(BIN)/oslo-config-generator --config-file etc/cyborg-lite/config-generator.conf

genpolicy: $(SETUP)
	$(BIN)/oslopolicy-sample-generator --config-file etc/cyborg-lite/policy-generator.conf

# The benchmark suite against OpenStack Cyborg 17.0.0 (its own virtualenv under
# benchmarks/.peer-venv, made on first use): loopback, RabbitMQ on 127.0.0.1:5672.
bench: venv
	$(BIN)/python -m benchmarks.run

bench-quick: venv
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
