# minivirt — build, test and demo entry points.
# `make check` is the test command: it installs what it needs (a venv with the
# project and its dev deps, QEMU from Debian when missing) and runs every check.

# The venv's interpreter: the system's /usr/bin/python3 when it is new enough and
# has venv, else python3 from PATH.  A distribution's python is built with PGO and
# LTO; a default pyenv build (--enable-shared, no --enable-optimizations) runs the
# same one-shot `minivirsh list --all` about a fifth slower (issue 14).
SYSTEM_PYTHON := /usr/bin/python3
PYTHON ?= $(shell $(SYSTEM_PYTHON) -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11) or not ensurepip.version())' \
	2>/dev/null && echo $(SYSTEM_PYTHON) || echo python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

CHECK  := $(VENV)/.check

.PHONY: check check-reset deps venv bytecode lint typecheck imports protocol-check test bench demo fuzz conformance clean

# Each step leaves a stamp ($(CHECK)-STEP); the last line sums them up (tools/check_summary.py).
check: deps venv check-reset lint typecheck imports protocol-check test conformance
	@$(BIN)/python -m tools.check_summary $(VENV)

check-reset:
	@rm -f $(CHECK)-*

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
# QEMU, qemu-utils and openssl, then Debian's libvirt (the tests and `make conformance`
# compare with it): each installed with apt-get when missing and we are root.
deps:
	@sh tools/install-qemu.sh
	@$(PYTHON) -m tools.libvirtd --install

lint: venv
	$(BIN)/ruff format --check minivirt tests tools
	$(BIN)/ruff check minivirt tests tools
	@echo passed > $(CHECK)-lint

typecheck: venv
	$(BIN)/mypy --strict minivirt
	@echo passed > $(CHECK)-typecheck

imports: venv
	$(BIN)/lint-imports
	@echo passed > $(CHECK)-imports

protocol-check: venv
	@if [ -d minivirt/remote/protocol ]; then \
		$(BIN)/python -m minivirt.remote.protocol --check && echo passed > $(CHECK)-protocol; \
	else echo "not run (no minivirt/remote/protocol)" > $(CHECK)-protocol; fi

test: venv
	MINIVIRT_CHECK_SUMMARY=$(CHECK)-pytest $(BIN)/pytest -q

bench: deps venv bytecode
	$(BIN)/python -m tools.bench

# The long run of the hostile-client fuzz (tests/daemon/test_daemon_fuzz.py).
FUZZ_EXAMPLES ?= 5000
fuzz: venv
	MINIVIRT_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -p no:cacheprovider tests/daemon/test_daemon_fuzz.py

# Real libvirt side by side with minivirt (installs Debian's libvirt when missing);
# rewrites docs/conformance.md and docs/conformance.json, fails on any unintended difference.
conformance: deps venv bytecode
	$(BIN)/python -m tools.conformance
	@$(BIN)/python -m tools.check_summary --conformance docs/conformance.json > $(CHECK)-conformance

demo: deps venv bytecode
	$(BIN)/python -m tools.demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
