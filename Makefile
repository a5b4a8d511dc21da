# minivirt — build, test and demo entry points.
# `make check` is the test command: it installs what it needs (a venv with the
# project and its dev deps, QEMU from Debian when missing) and runs every check.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: check deps venv bytecode lint typecheck imports protocol-check test bench demo conformance clean

check: deps venv lint typecheck imports protocol-check test conformance

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@touch $(STAMP)
	@$(MAKE) --no-print-directory bytecode

# Byte-compile once, so that start-up does not pay for compiling (some environments
# set PYTHONDONTWRITEBYTECODE, and then nothing would ever be cached).
bytecode:
	@$(BIN)/python -m compileall -q minivirt tools >/dev/null

# QEMU from Debian: installed through apt-get when missing and we are root.
deps:
	@sh tools/install-qemu.sh

lint: venv
	$(BIN)/ruff format --check minivirt tests tools
	$(BIN)/ruff check minivirt tests tools

typecheck: venv
	$(BIN)/mypy --strict minivirt

imports: venv
	$(BIN)/lint-imports

protocol-check: venv
	@if [ -d minivirt/remote/protocol ]; then $(BIN)/python -m minivirt.remote.protocol --check; fi

test: venv
	$(BIN)/pytest -q

bench: deps venv bytecode
	$(BIN)/python -m tools.bench

# Real libvirt side by side with minivirt (installs Debian's libvirt when missing);
# rewrites docs/conformance.md and docs/conformance.json, fails on any unintended difference.
conformance: deps venv bytecode
	$(BIN)/python -m tools.conformance

demo: deps venv bytecode
	$(BIN)/python -m tools.demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
