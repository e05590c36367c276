# Benchmarks (bench/run.py) and the peers they compare netaudit with.
#
#   make bench          netaudit at 1k/5k/10k/50k pods, NCA and netpol-analyzer on the same inputs, analysis only,
#                       agreement on 1k, listing 10,000 pods from a real kube-apiserver, pyinstrument profile of 10k.
#                       Prints the table and writes bench-results/latest.md. BENCH_ARGS passes options, e.g.
#                       make bench BENCH_ARGS="--sizes 1k,5k --no-live"
#   make bench-peers    install both peers (below); the benchmark skips a peer that is missing
#   make nca-venv       network-config-analyzer from PyPI into .venv-nca/ (about 10-30 s; `make test` runs it too,
#                       for tests/differential; a failure there only warns and the differential tests skip)
#   make netpolicy      netpol-analyzer built from the Go module proxy into .cache/bin/netpolicy (cold: about 2 min)
#   make bench-profile  pyinstrument into .venv (a developer tool, not a project dependency), then the 10k profile
#
# Included by the top-level Makefile (`-include mk/bench.mk`); also `make -f Makefile -f mk/bench.mk bench`.

BENCH_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
BENCH_ARGS ?=

# network-config-analyzer (IBM), pinned; its own virtualenv so its dependencies never meet ours.
NCA_VERSION ?= 2.1.0
NCA_VENV := $(BENCH_ROOT)/.venv-nca
NCA_STAMP := $(NCA_VENV)/.installed-$(NCA_VERSION)
BENCH_PYTHON ?= python3

# netpol-analyzer (np-guard), pinned by version and by the module's hash. The module proxy here serves the module
# but not its checksum-database entry, and `go install pkg@version` also asks for the version list (refused), so
# the module is downloaded with GONOSUMDB for it alone, its hash checked against the pin below (recorded from the
# first download, trust on first use), and built inside the module with its own go.sum checking every dependency.
NETPOL_ANALYZER_MODULE := github.com/np-guard/netpol-analyzer
NETPOL_ANALYZER_VERSION ?= v1.4.2
NETPOL_ANALYZER_SUM := h1:rntc7NyesdZ8GjUP8HEctICNBXuQOurbclNo+ZVWQYo=
BENCH_BIN_DIR := $(BENCH_ROOT)/.cache/bin
NETPOLICY_BIN := $(BENCH_BIN_DIR)/netpolicy
NETPOLICY_STAMP := $(BENCH_BIN_DIR)/.netpolicy-$(NETPOL_ANALYZER_VERSION)
# The same Go caches as mk/apiserver.mk (CI points APISERVER_GO_CACHE_DIR outside the clone).
BENCH_GO_CACHE_DIR ?= $(or $(APISERVER_GO_CACHE_DIR),$(BENCH_ROOT)/.cache/go)
BENCH_GO ?= go
_BENCH_GOENV = GOMODCACHE=$(BENCH_GO_CACHE_DIR)/mod GOCACHE=$(BENCH_GO_CACHE_DIR)/build \
  GOFLAGS="-modcacherw -buildvcs=false" GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOMAXPROCS=2 \
  GONOSUMDB=$(NETPOL_ANALYZER_MODULE)

PYINSTRUMENT_VERSION ?= 5.1.3

.PHONY: bench bench-peers nca-venv nca-venv-optional netpolicy bench-profile bench-profile-tool bench-clean

bench: install bench-peers apiserver bench-profile-tool
	$(PY) bench/run.py $(BENCH_ARGS)

bench-peers: nca-venv netpolicy

nca-venv: $(NCA_STAMP)

_NCA_INSTALL = { test -x $(NCA_VENV)/bin/python || $(BENCH_PYTHON) -m venv $(NCA_VENV); } && \
  $(NCA_VENV)/bin/python -m pip install -q --disable-pip-version-check 'network-config-analyzer==$(NCA_VERSION)' && \
  rm -f $(NCA_VENV)/.installed-* && touch $(NCA_STAMP) && $(NCA_VENV)/bin/nca --version

$(NCA_STAMP):
	@echo "nca-venv: installing network-config-analyzer $(NCA_VERSION) into $(NCA_VENV)"; $(_NCA_INSTALL)

# For `make test`: NCA makes tests/differential run; without it (no network, say) they skip, with the reason.
nca-venv-optional:
	@test -f $(NCA_STAMP) || { echo "nca-venv: installing network-config-analyzer $(NCA_VERSION) into $(NCA_VENV)"; \
	  $(_NCA_INSTALL); } || echo "warning: could not install network-config-analyzer; tests/differential will skip"
test: nca-venv-optional

netpolicy: $(NETPOLICY_STAMP)

$(NETPOLICY_STAMP):
	@set -e; mkdir -p $(BENCH_BIN_DIR); start=$$(date +%s); \
	json=$$(cd /tmp && $(_BENCH_GOENV) $(BENCH_GO) mod download -json $(NETPOL_ANALYZER_MODULE)@$(NETPOL_ANALYZER_VERSION)); \
	sum=$$(printf '%s\n' "$$json" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$$/\1/p'); \
	dir=$$(printf '%s\n' "$$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$$/\1/p'); \
	if [ "$$sum" != '$(NETPOL_ANALYZER_SUM)' ]; then \
	  echo "netpolicy: $(NETPOL_ANALYZER_MODULE)@$(NETPOL_ANALYZER_VERSION) has hash '$$sum', expected '$(NETPOL_ANALYZER_SUM)'"; exit 1; fi; \
	cd "$$dir" && $(_BENCH_GOENV) $(BENCH_GO) build -p 2 -trimpath -ldflags='-s -w' -o $(NETPOLICY_BIN).tmp ./cmd/netpolicy; \
	mv -f $(NETPOLICY_BIN).tmp $(NETPOLICY_BIN); rm -f $(BENCH_BIN_DIR)/.netpolicy-*; touch $@; \
	echo "netpolicy: built $(NETPOL_ANALYZER_MODULE)@$(NETPOL_ANALYZER_VERSION) in $$(( $$(date +%s) - start ))s"

bench-profile-tool: install
	@$(PY) -c 'import pyinstrument' 2>/dev/null || \
	  $(PY) -m pip install -q --disable-pip-version-check 'pyinstrument==$(PYINSTRUMENT_VERSION)'

bench-profile: bench-profile-tool
	$(PY) bench/run.py --sizes 10k --no-peers --no-live $(BENCH_ARGS)

bench-clean:
	rm -rf $(NCA_VENV) $(NETPOLICY_BIN) $(BENCH_BIN_DIR)/.netpolicy-* $(BENCH_ROOT)/.cache/bench $(BENCH_ROOT)/bench-results
