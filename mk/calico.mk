# A local Calico node without Docker: Calico's Felix, built from Go sources, enforcing policy between pods that
# are network namespaces on this machine (tools/calico_node/, tests/dataplane/).
#
#   make calico-felix        build (or reuse) calico-felix + the Calico CRDs into the binary cache
#   make calico-node         start a node (etcd, kube-apiserver, Felix and the node agent in network namespaces),
#                            write .cache/calico-node/kubeconfig and return, leaving it running
#   make calico-node-down    stop every process it started, remove every namespace, link and file it made
#   make calico-felix-clean  remove the built Felix and CRDs (the Go caches stay)
#
# The versions are pinned in tests/calico-node/go.mod (Calico v3.28, the newest the Go module proxy serves).
# Caching works like mk/apiserver.mk: the binary is rebuilt only when the stamp $(CALICO_BIN_DIR)/.calico-felix.stamp
# does not hold the hash of tests/calico-node/go.{mod,sum} + the Go version + the build flags. Measured on 2 cores:
# fully cold (no Go caches: 540 MB of modules, 1.1 GB of build cache) 8 min on a busy machine, 3 min with the
# modules already downloaded; after a pin change with warm Go caches, 9 s; with the stamp matching, 0.1 s. The Go
# caches live under .cache/go (or APISERVER_GO_CACHE_DIR), shared with the kube-apiserver build.
# The CRDs are copied from the Calico module in the Go module cache (libcalico-go/config/crd/, Apache-2.0),
# so no copy of them lives in this repository.

CALICO_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
# NETAUDIT_CALICO_BIN_DIR is also where tools/calico_node looks; by default the kube-apiserver's folder.
CALICO_BIN_DIR ?= $(or $(NETAUDIT_CALICO_BIN_DIR),$(NETAUDIT_APISERVER_BIN_DIR),.cache/bin)
CALICO_SRC := $(CALICO_ROOT)/tests/calico-node
CALICO_GO ?= go
CALICO_GO_CACHE_DIR ?= $(or $(APISERVER_GO_CACHE_DIR),$(CALICO_ROOT)/.cache/go)
CALICO_GO_PARALLEL ?= 2
CALICO_NODE_DIR ?= $(CALICO_ROOT)/.cache/calico-node
CALICO_PY ?= $(CALICO_ROOT)/.venv/bin/python

_CALICO_BIN := $(if $(filter /%,$(CALICO_BIN_DIR)),$(CALICO_BIN_DIR),$(CALICO_ROOT)/$(CALICO_BIN_DIR))
_CALICO_STAMP := $(_CALICO_BIN)/.calico-felix.stamp
_CALICO_MODULE = github.com/projectcalico/calico
_CALICO_MODULE_VERSION = $(shell awk '$$1=="$(_CALICO_MODULE)" && $$2 ~ /^v/ {print $$2}' $(CALICO_SRC)/go.mod | head -n1)
_CALICO_LDFLAGS = -s -w -X github.com/projectcalico/calico/felix/buildinfo.GitVersion=v3.28.5+$(lastword $(subst -, ,$(_CALICO_MODULE_VERSION))) -X github.com/projectcalico/calico/felix/buildinfo.GitRevision=$(lastword $(subst -, ,$(_CALICO_MODULE_VERSION)))

_CALICO_GOENV = cd $(CALICO_SRC) && \
  GOMODCACHE=$(CALICO_GO_CACHE_DIR)/mod GOCACHE=$(CALICO_GO_CACHE_DIR)/build \
  GOFLAGS="-mod=mod -modcacherw -buildvcs=false" CGO_ENABLED=0 GOMAXPROCS=$(CALICO_GO_PARALLEL) GOWORK=off

_CALICO_HASH = $(shell { cat $(CALICO_SRC)/go.mod $(CALICO_SRC)/go.sum; $(CALICO_GO) version; \
  echo '$(_CALICO_LDFLAGS)'; } | sha256sum | cut -c1-32)

.PHONY: calico-felix calico-felix-clean calico-node calico-node-down

calico-felix:
	@hash='$(_CALICO_HASH)'; bin='$(_CALICO_BIN)'; \
	if [ -x "$$bin/calico-felix" ] && [ -d "$$bin/calico-crds" ] && [ "$$(cat '$(_CALICO_STAMP)' 2>/dev/null)" = "$$hash" ]; then \
	  echo "calico-felix: Felix $$(cat $$bin/calico-felix.version) up to date in $$bin"; exit 0; \
	fi; \
	set -e; start=$$(date +%s); mkdir -p "$$bin"; rm -f '$(_CALICO_STAMP)'; \
	echo "calico-felix: building Felix ($(_CALICO_MODULE) $(_CALICO_MODULE_VERSION)) from Go sources into $$bin (cold: 3 to 8 min on 2 cores, 540 MB of modules)"; \
	$(_CALICO_GOENV) $(CALICO_GO) build -p $(CALICO_GO_PARALLEL) -trimpath -ldflags='$(_CALICO_LDFLAGS)' \
	  -o "$$bin/calico-felix.tmp" $(_CALICO_MODULE)/felix/cmd/calico-felix; \
	dir=$$($(_CALICO_GOENV) $(CALICO_GO) list -m -f '{{.Dir}}' $(_CALICO_MODULE)); \
	rm -rf "$$bin/calico-crds.tmp"; mkdir -p "$$bin/calico-crds.tmp"; \
	cp "$$dir"/libcalico-go/config/crd/*.yaml "$$bin/calico-crds.tmp/"; cp "$$dir/LICENSE.md" "$$bin/calico-crds.tmp/LICENSE.md"; \
	chmod -R u+w "$$bin/calico-crds.tmp"; rm -rf "$$bin/calico-crds"; mv "$$bin/calico-crds.tmp" "$$bin/calico-crds"; \
	mv -f "$$bin/calico-felix.tmp" "$$bin/calico-felix"; \
	echo "v3.28.5+ ($(_CALICO_MODULE) $(_CALICO_MODULE_VERSION))" > "$$bin/calico-felix.version"; \
	echo "$$hash" > '$(_CALICO_STAMP)'; \
	echo "calico-felix: built Felix in $$(( $$(date +%s) - start ))s"

calico-felix-clean:
	rm -rf $(_CALICO_BIN)/calico-felix $(_CALICO_BIN)/calico-felix.tmp $(_CALICO_BIN)/calico-crds \
	  $(_CALICO_BIN)/calico-crds.tmp $(_CALICO_BIN)/calico-felix.version $(_CALICO_STAMP)

# The node needs root (network namespaces, veths, nftables inside them), iptables, ipset and busybox
# (`make test-deps` installs them).
calico-node: install apiserver calico-felix
	@NETAUDIT_CALICO_BIN_DIR='$(_CALICO_BIN)' $(CALICO_PY) -m tools.calico_node up --dir '$(CALICO_NODE_DIR)'

calico-node-down:
	@$(CALICO_PY) -m tools.calico_node down --dir '$(CALICO_NODE_DIR)'
