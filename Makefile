# netaudit: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: install demo test test-unit lint bench clean help

help:
	@echo "make demo       install (if needed) and audit the bundled demo app (examples/shop)"
	@echo "make test       the whole suite: unit, conformance, CLI and integration (real kube-apiserver)"
	@echo "make test-unit  only the fast tests (no kube-apiserver build)"
	@echo "make apiserver  build kube-apiserver + etcd from Go sources into .cache/bin (cached)"
	@echo "make lint       static checks"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/netaudit matrix --manifests examples/shop/

test: install apiserver
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: install
	NETAUDIT_SKIP_INTEGRATION=1 $(PY) -m pytest -q -m "not integration and not e2e" $(PYTEST_ARGS)

lint: install
	$(PY) -m pip install -q --disable-pip-version-check ruff
	$(VENV)/bin/ruff check auditor tests

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info

-include mk/apiserver.mk
