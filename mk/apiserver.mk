# Builds a REAL kube-apiserver and etcd from Go sources (the Go module proxy) for the integration tests.
#
#   make apiserver          build (or reuse) .cache/bin/kube-apiserver and .cache/bin/etcd
#   make apiserver-clean    remove the built binaries (the Go caches under .cache/go stay)
#
# Works included from the top-level Makefile (`include mk/apiserver.mk`) and standalone
# (`make -f mk/apiserver.mk apiserver`). The versions are pinned in tests/apiserver/go.mod.
#
# Caching: the binaries are rebuilt only when the stamp .cache/bin/.apiserver.stamp does not hold the
# hash of tests/apiserver/{go.mod,go.sum,cmd/*/main.go} + the Go version + the build flags; otherwise
# `make apiserver` costs a fraction of a second. Modules and the build cache live in .cache/go/ so one
# cached folder (.cache/) holds everything a CI run needs. A cold build is long (kube-apiserver is big):
# about 9 minutes on 2 cores (peak ~2.3 GB RAM while linking); after a pin change with a warm Go cache, ~20 s.

# Repo root, from this file's own location, so the paths hold whichever directory make runs in.
APISERVER_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
# NETAUDIT_APISERVER_BIN_DIR is also where tests/integration/apiserver.py looks: one variable moves both.
APISERVER_BIN_DIR ?= $(or $(NETAUDIT_APISERVER_BIN_DIR),.cache/bin)
APISERVER_SRC := $(APISERVER_ROOT)/tests/apiserver
APISERVER_GO ?= go
APISERVER_GO_CACHE_DIR ?= $(APISERVER_ROOT)/.cache/go
# -p / GOMAXPROCS: the machines have 2 cores; more parallel compiles only cost memory.
APISERVER_GO_PARALLEL ?= 2

# A relative APISERVER_BIN_DIR is taken from the repo root.
_APISERVER_BIN := $(if $(filter /%,$(APISERVER_BIN_DIR)),$(APISERVER_BIN_DIR),$(APISERVER_ROOT)/$(APISERVER_BIN_DIR))
_APISERVER_STAMP := $(_APISERVER_BIN)/.apiserver.stamp

# The Kubernetes release in go.mod, stamped into the binary like an upstream build (`/version`).
_APISERVER_K8S_VERSION = $(shell awk '$$1=="k8s.io/kubernetes" && $$2 ~ /^v/ {print $$2} $$1=="require" && $$2=="k8s.io/kubernetes" {print $$3}' $(APISERVER_SRC)/go.mod | head -n1)
_APISERVER_VERSION_X = $(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
  -X $(p).gitVersion=$(_APISERVER_K8S_VERSION) \
  -X $(p).gitMajor=$(word 1,$(subst ., ,$(patsubst v%,%,$(_APISERVER_K8S_VERSION)))) \
  -X $(p).gitMinor=$(word 2,$(subst ., ,$(patsubst v%,%,$(_APISERVER_K8S_VERSION)))) \
  -X $(p).gitTreeState=clean)
_APISERVER_LDFLAGS = -s -w $(strip $(_APISERVER_VERSION_X))

_APISERVER_GOENV = cd $(APISERVER_SRC) && \
  GOMODCACHE=$(APISERVER_GO_CACHE_DIR)/mod GOCACHE=$(APISERVER_GO_CACHE_DIR)/build \
  GOFLAGS="-mod=mod -modcacherw -buildvcs=false" CGO_ENABLED=0 GOMAXPROCS=$(APISERVER_GO_PARALLEL) GOWORK=off

# Everything that decides the binaries' content. Evaluated only when the target runs.
_APISERVER_HASH = $(shell { cat $(APISERVER_SRC)/go.mod $(APISERVER_SRC)/go.sum $(sort $(wildcard $(APISERVER_SRC)/cmd/*/main.go)); \
  $(APISERVER_GO) version; echo '$(_APISERVER_LDFLAGS)'; } | sha256sum | cut -c1-32)

.PHONY: apiserver apiserver-clean

apiserver:
	@hash='$(_APISERVER_HASH)'; bin='$(_APISERVER_BIN)'; \
	if [ -x "$$bin/kube-apiserver" ] && [ -x "$$bin/etcd" ] && [ "$$(cat '$(_APISERVER_STAMP)' 2>/dev/null)" = "$$hash" ]; then \
	  echo "apiserver: kube-apiserver + etcd $(_APISERVER_K8S_VERSION) up to date in $$bin"; exit 0; \
	fi; \
	set -e; start=$$(date +%s); mkdir -p "$$bin"; rm -f '$(_APISERVER_STAMP)'; \
	echo "apiserver: building kube-apiserver + etcd for $(_APISERVER_K8S_VERSION) from Go sources into $$bin (cold: about 10 min on 2 cores; with a warm Go cache under .cache/go: under a minute)"; \
	$(_APISERVER_GOENV) $(APISERVER_GO) build -p $(APISERVER_GO_PARALLEL) -trimpath -ldflags='$(_APISERVER_LDFLAGS)' -o "$$bin/etcd.tmp" ./cmd/etcd; \
	$(_APISERVER_GOENV) $(APISERVER_GO) build -p $(APISERVER_GO_PARALLEL) -trimpath -ldflags='$(_APISERVER_LDFLAGS)' -o "$$bin/kube-apiserver.tmp" ./cmd/kube-apiserver; \
	mv -f "$$bin/etcd.tmp" "$$bin/etcd"; mv -f "$$bin/kube-apiserver.tmp" "$$bin/kube-apiserver"; \
	echo "$$hash" > '$(_APISERVER_STAMP)'; \
	echo "apiserver: built kube-apiserver + etcd in $$(( $$(date +%s) - start ))s"

apiserver-clean:
	rm -f $(_APISERVER_BIN)/kube-apiserver $(_APISERVER_BIN)/etcd $(_APISERVER_BIN)/kube-apiserver.tmp $(_APISERVER_BIN)/etcd.tmp $(_APISERVER_STAMP)
