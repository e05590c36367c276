# The kind + Calico end-to-end suite (needs Docker): make kind-up e2e kind-down. See kind-configs/README.md.
KIND_VERSION ?= v0.33.0
CALICO_VERSION ?= v3.31.0
KIND_CLUSTER ?= netaudit
KIND_CONTEXT := kind-$(KIND_CLUSTER)
KIND_BIN_DIR ?= $(CURDIR)/.cache/bin
KIND ?= $(or $(shell command -v kind 2>/dev/null),$(KIND_BIN_DIR)/kind)
CALICO_MANIFEST := https://raw.githubusercontent.com/projectcalico/calico/$(CALICO_VERSION)/manifests/calico.yaml

.PHONY: kind-bin kind-up kind-down e2e

kind-bin:
	@if [ ! -x "$(KIND)" ]; then \
	  echo "installing kind $(KIND_VERSION) into $(KIND_BIN_DIR)"; \
	  GOBIN=$(KIND_BIN_DIR) GOMODCACHE=$(APISERVER_GO_CACHE_DIR)/mod GOCACHE=$(APISERVER_GO_CACHE_DIR)/build \
	    go install sigs.k8s.io/kind@$(KIND_VERSION); \
	fi

kind-up: kind-bin
	@docker info >/dev/null 2>&1 || { echo "kind-up: no Docker engine answers (docker info failed)"; exit 2; }
	@if $(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
	  echo "kind cluster $(KIND_CLUSTER) exists"; \
	else \
	  $(KIND) create cluster --name $(KIND_CLUSTER) --config kind-configs/calico.yaml; \
	fi
	kubectl --context $(KIND_CONTEXT) apply -f $(CALICO_MANIFEST)
	kubectl --context $(KIND_CONTEXT) -n kube-system rollout status daemonset/calico-node --timeout=600s
	kubectl --context $(KIND_CONTEXT) -n kube-system rollout status deployment/calico-kube-controllers --timeout=600s
	kubectl --context $(KIND_CONTEXT) wait --for=condition=Ready nodes --all --timeout=600s

e2e: install
	NETAUDIT_E2E_CONTEXT=$(KIND_CONTEXT) $(PY) -m pytest tests/e2e -v -rs

kind-down: kind-bin
	$(KIND) delete cluster --name $(KIND_CLUSTER)
