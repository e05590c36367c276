"""Reading manifests as kubectl reads them: typed lists, YAML streams cut at separator lines, templates, JSON.

Every broken piece must be one error that names its file and line, and every other object of the same input must
still be read (the undamaged objects are counted, not just "no exception").
"""

from __future__ import annotations

import io
import json
import textwrap

import yaml

from auditor.sources.documents import ManifestDocuments, parse_text, split_documents
from auditor.sources.manifests import load_manifests

# What `kubectl get --raw /api/v1/namespaces/shop/pods` returns (trimmed): a PodList whose items carry no kind and
# no apiVersion, with the server-set fields a real response has.
RAW_PODLIST = {
    "kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "48113"},
    "items": [
        {"metadata": {"name": "web-7d77fb55cc-x2x9q", "generateName": "web-7d77fb55cc-", "namespace": "shop",
                      "uid": "0f0f4cb1-6b5e-4d3a-9c57-1b7c1f3e2a10", "resourceVersion": "47210",
                      "creationTimestamp": "2024-05-02T10:11:12Z",
                      "labels": {"app": "web", "pod-template-hash": "7d77fb55cc"},
                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d77fb55cc",
                                           "uid": "5c4b1a2e-0000-4000-8000-000000000001", "controller": True,
                                           "blockOwnerDeletion": True}],
                      "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
                                         "apiVersion": "v1", "time": "2024-05-02T10:11:12Z",
                                         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]},
         "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                  "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                                  "resources": {}, "terminationMessagePath": "/dev/termination-log",
                                  "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}],
                  "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                  "serviceAccountName": "default", "serviceAccount": "default", "nodeName": "node-1",
                  "securityContext": {}, "schedulerName": "default-scheduler", "priority": 0,
                  "enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority"},
         "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                    "hostIP": "172.18.0.3", "hostIPs": [{"ip": "172.18.0.3"}], "podIP": "10.244.1.7",
                    "podIPs": [{"ip": "10.244.1.7"}], "startTime": "2024-05-02T10:11:12Z", "qosClass": "BestEffort"}},
        {"metadata": {"name": "db-0", "namespace": "shop", "uid": "0f0f4cb1-6b5e-4d3a-9c57-1b7c1f3e2a11",
                      "labels": {"app": "db", "statefulset.kubernetes.io/pod-name": "db-0"},
                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
                                           "uid": "5c4b1a2e-0000-4000-8000-000000000002", "controller": True}]},
         "spec": {"containers": [{"name": "db", "image": "postgres:16",
                                  "ports": [{"name": "postgres", "containerPort": 5432, "protocol": "TCP"}]}]},
         "status": {"phase": "Running", "podIP": "10.244.2.9", "podIPs": [{"ip": "10.244.2.9"}]}},
    ],
}


def read(text: str, name: str = "m.yaml") -> ManifestDocuments:
    collected = ManifestDocuments()
    parse_text(textwrap.dedent(text), name, collected, json_hint=name.endswith(".json"))
    return collected


def names(collected: ManifestDocuments) -> list[tuple]:
    return [(d.obj.get("apiVersion"), d.obj.get("kind"), d.obj["metadata"]["name"]) for d in collected.docs]


def errors(state_or_docs) -> list[str]:
    return [a.message for a in state_or_docs.alerts if a.severity == "error"]


# --- typed lists ---------------------------------------------------------------------------------------------------
def test_raw_podlist_json_file_reads_every_pod(tmp_path):
    path = tmp_path / "pods.json"
    path.write_text(json.dumps(RAW_PODLIST))
    state = load_manifests([str(path)])
    assert sorted(p.id for p in state.pods) == ["shop/db-0", "shop/web-7d77fb55cc-x2x9q"]
    web = next(p for p in state.pods if p.name.startswith("web"))
    assert web.ips == ("10.244.1.7",) and web.workload == "Deployment/web"
    assert web.container_ports[0].name == "http"
    assert not errors(state)


def test_raw_podlist_yaml_reads_every_pod_with_its_own_line(tmp_path):
    path = tmp_path / "pods.yaml"
    path.write_text(yaml.safe_dump(RAW_PODLIST, sort_keys=False))
    state = load_manifests([str(path)])
    assert sorted(p.id for p in state.pods) == ["shop/db-0", "shop/web-7d77fb55cc-x2x9q"]
    lines = path.read_text().splitlines()
    for pod in state.pods:
        line = int(pod.source.rpartition(":")[2])
        assert lines[line - 1].startswith("- metadata:"), (pod.source, lines[line - 1])
    assert not errors(state)


def test_raw_podlist_on_stdin_as_json(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(RAW_PODLIST, indent=2)))
    state = load_manifests(["-"])
    assert len(state.pods) == 2 and not errors(state)


def test_every_typed_list_gives_its_items_kind_and_apiversion():
    cases = [
        ("v1", "NamespaceList", {"metadata": {"name": "n1"}}),
        ("v1", "ServiceList", {"metadata": {"name": "s", "namespace": "n1"}, "spec": {"ports": [{"port": 80}]}}),
        ("v1", "ServiceAccountList", {"metadata": {"name": "sa", "namespace": "n1"}}),
        ("discovery.k8s.io/v1", "EndpointSliceList", {"metadata": {"name": "s-1", "namespace": "n1"},
                                                      "addressType": "IPv4", "endpoints": []}),
        ("networking.k8s.io/v1", "NetworkPolicyList", {"metadata": {"name": "np", "namespace": "n1"},
                                                       "spec": {"podSelector": {}}}),
        ("apps/v1", "DeploymentList", {"metadata": {"name": "d", "namespace": "n1"},
                                       "spec": {"template": {"spec": {"containers": []}}}}),
        ("projectcalico.org/v3", "GlobalNetworkPolicyList", {"metadata": {"name": "g"},
                                                              "spec": {"selector": "all()"}}),
        ("crd.projectcalico.org/v1", "NetworkPolicyList", {"metadata": {"name": "c", "namespace": "n1"},
                                                           "spec": {"selector": "all()", "types": ["Ingress"]}}),
        ("crd.projectcalico.org/v1", "GlobalNetworkSetList", {"metadata": {"name": "gs"},
                                                              "spec": {"nets": ["192.0.2.0/24"]}}),
        ("policy.networking.k8s.io/v1alpha1", "AdminNetworkPolicyList",
         {"metadata": {"name": "anp"}, "spec": {"priority": 1, "subject": {"namespaces": {}}}}),
    ]
    for api_version, kind, item in cases:
        collected = read(json.dumps({"apiVersion": api_version, "kind": kind, "items": [item]}), "l.json")
        assert names(collected) == [(api_version, kind[:-4], item["metadata"]["name"])], kind
        assert not collected.alerts


def test_typed_list_items_keep_what_they_name():
    doc = {"apiVersion": "v1", "kind": "PodList", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "named"}},
        {"apiVersion": "v1", "metadata": {"name": "version-only"}},  # the list's version: kind from the list
        {"kind": "Pod", "metadata": {"name": "kind-only"}},  # the list's kind: version from the list
    ]}
    assert names(read(json.dumps(doc), "l.json")) == [("v1", "Pod", "named"), ("v1", "Pod", "version-only"),
                                                      ("v1", "Pod", "kind-only")]


def test_plain_list_items_need_their_own_kind(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Namespace
          metadata: {name: a}
        - apiVersion: v1
          metadata: {name: nokind}
        - apiVersion: v1
          kind: Namespace
          metadata: {name: c}
    """))
    state = load_manifests([str(path)])
    assert set(state.namespaces) == {"a", "c"}
    assert errors(state) == [f"{path}:7: object has no kind (the items of a plain List must name their own kind; "
                             "a typed list such as PodList gives it to them); skipped"]


def test_list_items_in_json_are_named_by_index():
    doc = {"apiVersion": "v1", "kind": "PodList", "items": [{"metadata": {"name": "x"}}]}
    collected = read(json.dumps(doc), "l.json")
    assert [d.where for d in collected.docs] == ["l.json:1 items[0]"]


# --- YAML streams --------------------------------------------------------------------------------------------------
STREAM = """\
apiVersion: v1
kind: Namespace
metadata: {name: first}
---
apiVersion: v1
kind: Namespace
metadata:
  name: broken
  labels: {a: [b
---
apiVersion: v1
kind: Namespace
metadata: {name: third}
"""


def test_a_broken_document_costs_only_itself():
    collected = read(STREAM)
    assert [n for _, _, n in names(collected)] == ["first", "third"]
    assert [d.where for d in collected.docs] == ["m.yaml:1", "m.yaml:11"]
    assert len(collected.alerts) == 1
    alert = collected.alerts[0]
    assert alert.severity == "error" and alert.code == "invalid-yaml"
    assert alert.message.startswith("m.yaml:9: invalid YAML") and "document skipped" in alert.message


def test_a_broken_first_document_does_not_hide_the_rest():
    text = "kind: [\n---\n" + STREAM.replace("labels: {a: [b", "labels: {a: b}")
    collected = read(text)
    assert [n for _, _, n in names(collected)] == ["first", "broken", "third"]
    assert [a.message.split(":")[1] for a in collected.alerts] == ["1"]


def test_separators_as_kubectl_reads_them():
    text = ("--- # a comment after the separator is fine\n"
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n"
            "---   \n"
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"
            "--- {apiVersion: v1, kind: Namespace, metadata: {name: c}}\n"  # kubectl: invalid separator
            "---\n"
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: d}\n")
    collected = read(text)
    assert [n for _, _, n in names(collected)] == ["a", "b", "d"]
    assert len(collected.alerts) == 1 and collected.alerts[0].message.startswith(
        "m.yaml:9: invalid YAML document separator `--- {apiVersion")


def test_split_documents_lines_directives_and_empty_documents():
    text = "%YAML 1.1\n---\na: 1\n---\n# only a comment\n---\n\n---\nb: 2\n...\n"
    docs = split_documents(text)
    assert [(d.line, d.first) for d in docs] == [(1, 3), (8, 9)]
    collected = read(text)
    assert not collected.alerts  # the directive travels with its document; empty documents are nothing


def test_windows_line_ends_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "crlf.yaml"
    path.write_bytes(("\ufeff" + STREAM.replace("labels: {a: [b", "labels: {a: b}")).replace("\n", "\r\n")
                     .encode("utf-8"))
    state = load_manifests([str(path)])
    assert set(state.namespaces) == {"first", "broken", "third"} and not state.alerts


def test_a_helm_template_says_so_and_names_helm_template():
    text = """\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: {{ include "shop.fullname" . }}
      labels:
        {{- include "shop.labels" . | nindent 4 }}
    """
    collected = read(text, "templates/deployment.yaml")
    assert not collected.docs and len(collected.alerts) == 1
    message = collected.alerts[0].message
    assert message.startswith("templates/deployment.yaml:")
    assert "looks like a template" in message and "helm template" in message and "line 4" in message


def test_go_templates_inside_valid_yaml_strings_are_content():
    # Alertmanager and Prometheus rule texts carry {{ }} in strings: that is data, not a template to render.
    text = """\
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: alerts, namespace: monitoring}
    data:
      rules: "summary: {{ $labels.instance }} is down"
    """
    collected = read(text)
    assert names(collected) == [("v1", "ConfigMap", "alerts")] and not collected.alerts


def test_json_stream_of_several_objects_and_a_broken_tail():
    text = ('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}\n'
            '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}\n'
            '{"apiVersion": "v1", "kind": ')
    collected = read(text, "s.json")
    assert [n for _, _, n in names(collected)] == ["a", "b"]
    assert [d.where for d in collected.docs] == ["s.json:1", "s.json:2"]
    assert len(collected.alerts) == 1 and collected.alerts[0].message.startswith("s.json:3: invalid JSON")


def test_a_folder_with_a_broken_file_reads_the_others(tmp_path):
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    (tmp_path / "b.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: [\n")
    (tmp_path / "c.json").write_text(json.dumps({"apiVersion": "v1", "kind": "NamespaceList",
                                                 "items": [{"metadata": {"name": "c"}}]}))
    (tmp_path / "d.yaml").write_bytes(b"\xff\xfe not utf-8")
    state = load_manifests([str(tmp_path)])
    assert set(state.namespaces) == {"a", "c"}
    found = errors(state)
    assert len(found) == 2
    assert found[0].startswith(f"{tmp_path / 'b.yaml'}:3: invalid YAML")
    assert found[1].startswith(f"{tmp_path / 'd.yaml'}: cannot read")


# --- the smallest piece: what a broken field costs ----------------------------------------------------------------
def state_of(text: str):
    collected = read(text)
    from auditor.sources.manifests import build_state
    state = build_state(collected.docs)
    state.alerts[:0] = collected.alerts
    return state


def test_a_typo_in_one_container_port_drops_only_that_port():
    state = state_of("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec:
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            image: nginx
            ports:
            - {name: http, containerPort: 8080}
            - {name: metrics, containerport: 9090}
            - {containerPort: 70000}
    """)
    (pod,) = state.pods
    assert pod.workload == "Deployment/web" and pod.labels == {"app": "web"}
    assert [(p.name, p.port) for p in pod.container_ports] == [("http", 8080)]
    assert pod.uncertain_ports == (("metrics", "TCP", None),)  # the unnamed bad entry cannot matter
    assert not pod.opaque and not pod.uncertain_labels
    assert errors(state) == [
        "m.yaml:1: Deployment shop/web: spec.template.spec.containers[0].ports[1].containerPort: is missing (there "
        "is `containerport`: field names are case-sensitive); port entry left out: named-port matches on this pod "
        "are unknown",
        "m.yaml:1: Deployment shop/web: spec.template.spec.containers[0].ports[2].containerPort: 70000 is not a "
        "port number from 1 to 65535; port entry left out (it has no name, so no rule can refer to it: no verdict "
        "changes)"]


def test_a_workload_without_a_readable_template_stays_with_unknown_verdicts():
    state = state_of("""\
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db, namespace: shop}
    spec: {template: [not, an, object]}
    """)
    (pod,) = state.pods
    assert pod.workload == "StatefulSet/db" and pod.opaque and pod.uncertain_labels == ("*",)
    assert errors(state) == ["m.yaml:1: StatefulSet shop/db: spec.template: is required (an object); its pods are "
                             "unknown: every verdict about this pod is unknown"]


def test_bad_labels_ips_and_owners_cost_only_themselves():
    state = state_of("""\
    apiVersion: v1
    kind: Pod
    metadata:
      name: p
      namespace: shop
      labels: {app: web, tier: 1.10, "bad key": x}
      ownerReferences: {kind: ReplicaSet}
    status: {podIP: 10.0.0.300, podIPs: [{ip: 10.0.0.300}, {ip: "fd00::1"}]}
    """)
    (pod,) = state.pods
    assert pod.labels == {"app": "web"} and pod.uncertain_labels == ("tier",)
    assert pod.ips == ("fd00::1",) and pod.uncertain_identity and not pod.opaque
    assert pod.workload == "Pod/p"
    found = errors(state)
    assert len(found) == 5
    assert any("metadata.labels[tier]: label value 1.1 must be a string" in e for e in found)
    assert any("metadata.labels[bad key]" in e and "label left out" in e for e in found)
    assert any("metadata.ownerReferences: must be a list of objects" in e for e in found)
    assert any("status.podIPs[0]" in e for e in found) and any("status.podIP:" in e for e in found)


def test_a_bad_service_port_or_slice_endpoint_drops_only_itself():
    state = state_of("""\
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec:
      selector: {app: web}
      clusterIP: 10.96.0.20
      ports:
      - {name: http, port: 80, targetPort: http}
      - {name: admin, port: "eighty"}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
    addressType: IPv4
    endpoints:
    - {addresses: [10.0.0.5], conditions: {ready: true}}
    - {addresses: 10.0.0.6}
    ports:
    - {name: http, port: 8080, protocol: TCP}
    - {name: admin, port: -1}
    """)
    (service,) = state.services
    assert [(p.name, p.port) for p in service.ports] == [("http", 80)] and service.cluster_ips == ("10.96.0.20",)
    (slice_,) = state.endpoint_slices
    assert [e.addresses for e in slice_.endpoints] == [("10.0.0.5",)]
    assert [(p.name, p.port) for p in slice_.ports] == [("http", 8080)]
    found = errors(state)
    assert len(found) == 3
    assert found[0].startswith("m.yaml:1: Service shop/web: spec.ports[1].port: 'eighty' is not a port number")
    assert found[1].startswith("m.yaml:11: EndpointSlice shop/web-1: endpoints[1]: must be an object with addresses")
    assert found[2].startswith("m.yaml:11: EndpointSlice shop/web-1: ports[1]:")


def test_pods_of_a_deployment_without_its_replicaset_need_no_representative():
    # kubectl get deploy,pods -o yaml: the ReplicaSet is not there; the pod-template-hash names the Deployment.
    state = state_of("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: x}
    spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: i}]}}}
    ---
    apiVersion: v1
    kind: Pod
    metadata:
      name: web-7d77fb55cc-x2x9q
      namespace: x
      labels: {app: web, pod-template-hash: 7d77fb55cc}
      ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7d77fb55cc, controller: true}]
    spec: {containers: [{name: c, image: i}]}
    status: {podIP: 10.244.0.5, phase: Running}
    """)
    assert [(p.id, p.workload, p.representative) for p in state.pods] == [
        ("x/web-7d77fb55cc-x2x9q", "Deployment/web", False)]


def test_the_demo_has_its_running_pods_and_no_warning():
    state = load_manifests(["examples/shop"])
    assert len({p.workload_id for p in state.pods}) == 10
    assert all(p.ips and not p.representative for p in state.pods)
    assert state.alerts == []
