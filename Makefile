# netaudit: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: install demo test test-unit test-deps lint bench clean help krew-archive

help:
	@echo "make demo       install (if needed) and audit the bundled demo app (examples/shop)"
	@echo "make test       the whole suite: unit, conformance, CLI and integration (real kube-apiserver)"
	@echo "make test-unit  only the fast tests (no kube-apiserver build)"
	@echo "make apiserver  build kube-apiserver + etcd from Go sources into .cache/bin (cached)"
	@echo "make calico-node       a local Calico node (Felix in network namespaces, no Docker); calico-node-down"
	@echo "make lint       static checks"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/netaudit matrix --manifests examples/shop/ --level workload

test: install apiserver kind-bin calico-felix
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: install
	NETAUDIT_SKIP_INTEGRATION=1 $(PY) -m pytest -q -m "not integration and not e2e" $(PYTEST_ARGS)

lint: install
	$(PY) -m pip install -q --disable-pip-version-check ruff
	$(VENV)/bin/ruff check auditor tests tools bench

# The krew plugin archive for this machine's platform: a shiv bundle (it unpacks compiled wheels on first run).
KREW_ARCHIVE := dist/kubectl-netaudit-$(shell uname -s | tr A-Z a-z)-$(shell uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/').tar.gz
krew-archive: install
	$(PY) -m pip install -q --disable-pip-version-check shiv
	rm -rf build/krew && mkdir -p build/krew dist
	$(VENV)/bin/shiv -q -c netaudit -o build/krew/kubectl-netaudit -p '/usr/bin/env python3' .
	tar -C build/krew -czf $(KREW_ARCHIVE) kubectl-netaudit
	@echo "built $(KREW_ARCHIVE): sha256 $$(sha256sum $(KREW_ARCHIVE) | cut -d' ' -f1)"

# System packages some tests use: Chromium (the HTML report, tests/browser), Graphviz (dot output), and for the
# local Calico node (tests/dataplane) iptables, ipset, conntrack, nftables and busybox.
# Those tests skip with a clear reason without them; CI installs them (as root).
TEST_DEB_PACKAGES := chromium graphviz iptables ipset conntrack nftables busybox
TEST_DEB_COMMANDS := chromium dot iptables-nft-restore ipset conntrack nft busybox
test-deps:
	@if for c in $(TEST_DEB_COMMANDS); do command -v $$c >/dev/null || exit 1; done; then echo "test-deps: $(TEST_DEB_PACKAGES) present"; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEB_PACKAGES) >/dev/null; \
	else echo "test-deps: run as root, or: sudo apt-get install $(TEST_DEB_PACKAGES)"; fi

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info

-include mk/apiserver.mk
-include mk/kind.mk
-include mk/bench.mk
-include mk/calico.mk
