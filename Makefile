# The README's commands. `make test` and `make demo` take a fresh machine all the way (they run `install` first).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.aihwkit-sc-installed
PYTEST_ARGS ?=

.PHONY: install reinstall demo test test-fast bench wheels lint

install: $(STAMP)

# Re-run the (idempotent) installer only when what it installs from has changed.
$(STAMP): pyproject.toml constraints.txt scripts/install.sh scripts/aihwkit_wheel.sh $(wildcard scripts/patches/*.patch) \
          $(wildcard scripts/patches/batched/*.patch) \
          $(wildcard plugins/*/pyproject.toml)
	VENV=$(VENV) bash scripts/install.sh
	@touch $@

reinstall:
	rm -f $(STAMP)
	$(MAKE) install

demo: install
	$(VENV)/bin/aihwkit-sc demo mnist

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

# The aihwkit build variants the benchmarks compare with the installed (batched) one; cached after the first build.
wheels: install
	for variant in stock fastrand batched; do PY=$(PY) bash scripts/aihwkit_wheel.sh $$variant >/dev/null || exit 1; done

bench: install wheels
	$(PY) -m pytest benchmarks --benchmark-only --ratios-page docs/results/benchmarks.md $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check aihwkit_sc tests benchmarks examples plugins
	$(VENV)/bin/mypy
