# cyborg-lite developer entry points. `make run` and `make test` are the Quick start.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONF ?=
CONF_ARGS := $(if $(CONF),--config-file $(CONF),)

.PHONY: venv run test lint types unit genconfig genpolicy bench bench-quick clean

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

lint: venv
	$(BIN)/ruff check cyborg_lite tests benchmarks
	$(BIN)/ruff format --check cyborg_lite tests benchmarks

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests/unit

test: lint types
	$(BIN)/pytest -q -p no:cacheprovider tests

genconfig: venv
	$(BIN)/oslo-config-generator --config-file etc/cyborg-lite/config-generator.conf

genpolicy: venv
	$(BIN)/oslopolicy-sample-generator --config-file etc/cyborg-lite/policy-generator.conf

# The benchmark suite against OpenStack Cyborg 17.0.0 (its own virtualenv under
# benchmarks/.peer-venv, made on first use): loopback, RabbitMQ on 127.0.0.1:5672.
bench: venv
	$(BIN)/python -m benchmarks.run

bench-quick: venv
	$(BIN)/python -m benchmarks.run --quick

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
