"""Manifest files -> documents: what netaudit read, where, and what it could not read.

Accepts what people have at hand: one file or many, folders (recursively), multi-document YAML split on `---`
lines as kubectl splits them, JSON, `List` and typed lists (`PodList`, ...) whose items take their kind from the
list, and `kubectl get -o yaml|json` dumps. A broken document is one error naming its file and line; the documents
around it are still read. Turning the documents into a ClusterState is manifests.py's job.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from ..model import Alert, Unreadable

try:  # libyaml is 5x faster on big inputs (DESIGN.md, performance notes)
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader = yaml.SafeLoader

_STR, _MAP, _SEQ, _MERGE = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
                            "tag:yaml.org,2002:merge")


class _Loader(_BaseLoader):
    """PyYAML's safe loader, with the same results, made cheaper where Kubernetes manifests spend the time.

    Even with libyaml parsing, most of the load is Python: resolving each plain scalar's tag through regexes,
    and the generic constructor. Manifests repeat the same scalars endlessly ("TCP", "v1", label values), so
    resolution is memoized per (value, style); and plain maps, lists and strings are built directly, leaving
    everything else (numbers, booleans, merge keys, explicit tags, errors) to PyYAML's own constructor.
    """

    _resolved: dict = {}

    def resolve(self, kind, value, implicit):
        if kind is yaml.ScalarNode:
            key = (value, implicit)
            tag = self._resolved.get(key)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._resolved) < 200_000:
                    self._resolved[key] = tag
            return tag
        return super().resolve(kind, value, implicit)

    doc_line = 1
    item_lines: list[int] | None = None

    def construct_document(self, node):
        # Where the document and each item of a list (a bare array, or a List's `items`) start, 1-based, so that
        # messages name their own lines.
        self.doc_line = node.start_mark.line + 1
        items = node
        if type(node) is yaml.MappingNode:
            items = next((v for k, v in node.value if type(k) is yaml.ScalarNode and k.value == "items"), None)
        self.item_lines = [i.start_mark.line + 1 for i in items.value] if type(items) is yaml.SequenceNode else None
        try:
            return self._build(node, {})
        except (TypeError, RecursionError):
            pass  # e.g. an unhashable key: PyYAML says what is wrong, with a line number
        finally:
            self.constructed_objects, self.recursive_objects, self.deep_construct = {}, {}, False
        return super().construct_document(node)

    def _build(self, node, memo: dict):
        found = memo.get(id(node))
        if found is not None:
            return found  # an alias: the same object, as PyYAML gives it
        kind = type(node)
        if kind is yaml.ScalarNode:
            return node.value if node.tag == _STR else self.construct_object(node, deep=True)
        if kind is yaml.MappingNode and node.tag == _MAP and not any(k.tag == _MERGE for k, _ in node.value):
            out: dict = {}
            memo[id(node)] = out
            for key_node, value_node in node.value:
                out[self._build(key_node, memo)] = self._build(value_node, memo)
            return out
        if kind is yaml.SequenceNode and node.tag == _SEQ:
            items: list = []
            memo[id(node)] = items
            items.extend(self._build(item, memo) for item in node.value)
            return items
        return self.construct_object(node, deep=True)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob")

POLICY_KINDS = {
    "networking.k8s.io": {"NetworkPolicy"},
    "projectcalico.org": {"NetworkPolicy", "GlobalNetworkPolicy", "NetworkSet", "GlobalNetworkSet", "Tier",
                          "StagedNetworkPolicy", "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy",
                          "HostEndpoint", "Profile"},
    "crd.projectcalico.org": {"NetworkPolicy", "GlobalNetworkPolicy", "NetworkSet", "GlobalNetworkSet", "Tier",
                              "StagedNetworkPolicy", "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy",
                              "HostEndpoint", "Profile"},
    "policy.networking.k8s.io": {"AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy"},
}
CLUSTER_SCOPED_POLICY_KINDS = {"GlobalNetworkPolicy", "GlobalNetworkSet", "Tier", "StagedGlobalNetworkPolicy",
                               "HostEndpoint", "Profile", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy",
                               "ClusterNetworkPolicy"}

# Kinds that cannot change connectivity: read silently. Anything else is reported as skipped.
IGNORED_KINDS = {
    "ConfigMap", "Secret", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "CustomResourceDefinition", "PersistentVolumeClaim",
    "PersistentVolume", "StorageClass", "LimitRange", "ResourceQuota", "PriorityClass", "Endpoints", "Event",
    "ControllerRevision", "Lease", "Node", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "APIService", "CSIDriver", "CSINode", "VolumeAttachment", "PodTemplate", "ComponentStatus",
    "VerticalPodAutoscaler", "ServiceMonitor", "PodMonitor",
    "ClusterInformation", "FelixConfiguration", "BGPConfiguration", "BGPPeer", "IPPool", "IPAMBlock",
    "BlockAffinity", "IPAMHandle", "IPAMConfig", "KubeControllersConfiguration", "IPReservation",
}

def api_group(api_version: str) -> str:
    """`apps/v1` -> `apps`; the core group (`v1`) is ""."""
    return api_version.split("/", 1)[0] if "/" in api_version else ""


class ManifestError(Exception):
    """Nothing usable could be read (no file, nothing parsed): the CLI exits with code 2."""


@dataclass
class Document:
    obj: Mapping
    where: str  # "path:line", or "path:line items[3]" for an item of a list whose lines are not known (JSON)


@dataclass
class ManifestDocuments:
    """The documents read from manifest files, each with where it came from, and the errors met reading them."""

    docs: list[Document] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    files: int = 0
    unreadable: list[Unreadable] = field(default_factory=list)  # policy documents that did not parse


def read_file(file_path: str, collected: ManifestDocuments) -> None:
    """Add one file's objects to `collected`; a file that cannot be read is an error alert, not an exception."""
    try:
        with open(file_path, encoding="utf-8-sig") as handle:  # -sig: a byte-order mark is not content
            text = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        collected.alerts.append(Alert("unreadable-file", f"{file_path}: cannot read: {err}; file skipped",
                                      file_path, "error", file_path))
        return
    collected.files += 1
    parse_text(text, file_path, collected, json_hint=file_path.endswith(".json"))


def manifest_files(path: str) -> list[str]:
    """The manifest files of a path: the file itself, or a folder's .yaml/.yml/.json files (hidden folders skipped)."""
    if os.path.isfile(path):
        return [path]
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(MANIFEST_SUFFIXES))
    return found


# --- parsing: text -> documents -> objects ------------------------------------------------------------------------
# A YAML stream is cut into documents before anything is parsed, as kubectl reads files
# (k8s.io/apimachinery/pkg/util/yaml/decoder.go, YAMLReader.Read): a separator is a line that starts with `---`
# followed by nothing but spaces or a comment. kubectl refuses a line that starts with `---` and goes on with
# anything else ("invalid Yaml document separator"); here such a line still ends the document before it, and the
# document it starts is reported and skipped. Each document is then parsed on its own, so a broken one costs only
# itself, and every error names the line in the file.
_SEPARATOR = re.compile(r"^---([^\n]*)", re.MULTILINE)
_LEADING = re.compile(r"(?:---[^\n]*(?:\n|\Z))?(?:[ \t]*(?:#[^\n]*)?(?:\r?\n|\Z))*")  # separator, blanks, comments
_DIRECTIVES_ONLY = re.compile(r"(?:[ \t]*(?:%[^\n]*|#[^\n]*)?(?:\r?\n|\Z))*\Z")
_BAD_SEPARATOR = re.compile(r"^---[ \t]*[^ \t\r\n#]", re.MULTILINE)
_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_SPACE = re.compile(r"\s*")


@dataclass(frozen=True)
class YamlDocument:
    line: int  # line of the document's first line in the file (its separator, if it has one)
    first: int  # line of its first content line (what messages point at)
    text: str  # starts with its separator line, so a parser's line inside it + `line` is the line in the file
    bad_separator: str | None = None  # what follows `---` on a separator line kubectl refuses


def split_documents(text: str) -> list[YamlDocument]:
    """The non-empty documents of a YAML stream, cut at separator lines as kubectl cuts them."""
    starts, bad = [0], [None]
    for match in _SEPARATOR.finditer(text):
        rest = match.group(1).strip()
        verdict = rest if rest and not rest.startswith("#") else None
        if match.start() == 0:
            bad[0] = verdict
        else:
            starts.append(match.start())
            bad.append(verdict)
    docs = []
    line = 1
    carried: tuple[int, str] | None = None
    for i, start in enumerate(starts):
        chunk = text[start:starts[i + 1] if i + 1 < len(starts) else len(text)]
        chunk_line = line
        line += chunk.count("\n")
        lead = _LEADING.match(chunk).end()
        if lead >= len(chunk) and bad[i] is None:
            continue  # nothing but a separator, blank lines and comments
        if chunk[lead:lead + 1] == "%" and _DIRECTIVES_ONLY.match(chunk, lead):
            carried = (chunk_line, chunk)  # %YAML / %TAG directives belong to the document after them
            continue
        first = chunk_line + chunk.count("\n", 0, lead)
        if carried is not None:
            chunk_line, chunk = carried[0], carried[1] + chunk
            carried = None
        docs.append(YamlDocument(chunk_line, first, chunk, bad[i]))
    return docs


def parse_text(text: str, name: str, collected: ManifestDocuments, *, json_hint: bool) -> None:
    """Add the objects of one file's text to `collected`; what cannot be parsed becomes an error alert."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if json_hint:
        _parse_json(text, name, collected)
        return
    if name == "<stdin>" and text.lstrip().startswith(("{", "[")):
        # As kubectl does, a stream that starts with `{` is read as JSON (`kubectl get -o json | netaudit -f -`).
        # JSON is also YAML: what the JSON parser refuses gets its chance as YAML before it is reported.
        trial = ManifestDocuments()
        _parse_json(text, name, trial)
        if not trial.alerts:
            collected.docs.extend(trial.docs)
            return
    last_line = 0
    if not _BAD_SEPARATOR.search(text):
        # The fast path: libyaml reads the whole stream in one go. When no separator line is one kubectl refuses,
        # libyaml cuts documents exactly where kubectl does. If a document is broken, the documents before it are
        # kept, and from it on the stream is cut by hand and each document parsed on its own.
        loader = _Loader(text)
        try:
            while loader.check_data():
                value = loader.get_data()
                last_line = loader.doc_line
                if value is not None:
                    _add_object(value, name, last_line, collected, loader.item_lines)
            return
        except (yaml.YAMLError, ValueError, RecursionError):
            pass
        finally:
            loader.dispose()
    for doc in split_documents(text):
        if doc.line > last_line:
            _parse_document(doc, name, collected)


def _parse_json(text: str, name: str, collected: ManifestDocuments) -> None:
    """One JSON value, or several one after another (as `jq` prints them)."""
    decoder = json.JSONDecoder()
    position = _SPACE.match(text).end()
    while position < len(text):
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as err:
            before = "; the values before it were read" if collected.docs else ""
            collected.alerts.append(Alert("invalid-json", f"{name}:{err.lineno}: invalid JSON: {err.msg} (column "
                                          f"{err.colno}); the rest of the file is skipped{before}", name, "error",
                                          f"{name}:{err.lineno}"))
            return
        _add_object(value, name, text.count("\n", 0, position) + 1, collected)
        position = _SPACE.match(text, end).end()


def _parse_document(doc: YamlDocument, name: str, collected: ManifestDocuments) -> None:
    if doc.bad_separator is not None:
        collected.alerts.append(Alert(
            "invalid-yaml", f"{name}:{doc.line}: invalid YAML document separator `--- {doc.bad_separator}`: only a "
            "comment may follow `---` on its line (kubectl refuses it too); document skipped", name, "error",
            f"{name}:{doc.line}"))
        return
    loader = _Loader(doc.text)
    try:
        value = loader.get_single_data()
        item_lines = None if loader.item_lines is None else [doc.line - 1 + n for n in loader.item_lines]
    except (yaml.YAMLError, ValueError, RecursionError) as err:  # ValueError: e.g. a date such as 2024-02-30
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = doc.line + mark.line if mark is not None else doc.first
        line = min(line, doc.line + doc.text.rstrip().count("\n"))  # "found end of stream": its last line
        template = _TEMPLATE.search(doc.text)
        if template:
            at = doc.line + doc.text.count("\n", 0, template.start())
            message = (f"{name}:{line}: this looks like a template, not a manifest (`{template.group(0)[:40]}` on "
                       f"line {at}): render it first with `helm template` (or `kustomize build`) and read the output; "
                       "document skipped")
            collected.alerts.append(Alert("template", message, name, "error", f"{name}:{at}"))
            return
        problem = getattr(err, "problem", None) or (str(err).splitlines() or [type(err).__name__])[0]
        policy = _unreadable_policy(doc.text, f"{name}:{line}", problem)
        if policy is not None:
            collected.unreadable.append(policy)
        consequence = "; it is a policy: the verdicts it could change are unknown" if policy is not None else ""
        collected.alerts.append(Alert("invalid-yaml", f"{name}:{line}: invalid YAML: {problem}; document skipped "
                                      f"(the documents around it are read){consequence}", name, "error",
                                      f"{name}:{line}"))
        return
    finally:
        loader.dispose()
    if value is not None:
        _add_object(value, name, doc.line - 1 + loader.doc_line, collected, item_lines)


_KIND_LINE = re.compile(r"^kind:[ \t]*[\"']?([A-Za-z]+)", re.MULTILINE)
_API_LINE = re.compile(r"^apiVersion:[ \t]*[\"']?([\w.\-/]+)", re.MULTILINE)
_METADATA = re.compile(r"^metadata:(.*(?:\n[ \t]+.*)*)", re.MULTILINE)
_NAMESPACE = re.compile(r"\bnamespace:[ \t]*[\"']?([a-z0-9][-a-z0-9.]*)")


def _unreadable_policy(text: str, where: str, problem: str) -> Unreadable | None:
    """A policy document that does not parse still says, on its own lines, that it is a policy (and where): its
    effect is unknown, so it stands as an unreadable policy resource of that namespace, as a policy the live
    source may not list does (the verdicts it could change become unknown). None when the text does not say so."""
    kind, api = _KIND_LINE.search(text), _API_LINE.search(text)
    if kind is None or api is None or kind.group(1) not in POLICY_KINDS.get(api_group(api.group(1)), ()):
        return None
    kind_name = kind.group(1)
    metadata = _METADATA.search(text)
    namespace = _NAMESPACE.search(metadata.group(1)) if metadata else None
    scope = None if kind_name in CLUSTER_SCOPED_POLICY_KINDS else (namespace.group(1) if namespace else "default")
    plural = kind_name[:-1] + "ies" if kind_name.endswith("y") else kind_name + "s"
    return Unreadable(f"{plural.lower()}.{api_group(api.group(1))}", scope,
                      f"a {kind_name} at {where} does not parse ({problem})")


def _add_object(obj: object, name: str, line: int, collected: ManifestDocuments,
                item_lines: list[int] | None = None, label: str = "") -> None:
    where = f"{name}:{line}" + (f" {label}" if label else "")
    if isinstance(obj, list):  # a bare JSON/YAML array of objects
        for i, item in enumerate(obj):
            if item_lines is not None and i < len(item_lines):
                _add_object(item, name, item_lines[i], collected)
            else:
                _add_object(item, name, line, collected, None, f"{label}[{i}]")
        return
    if not isinstance(obj, Mapping):
        collected.alerts.append(Alert("not-an-object", f"{where}: document is not a Kubernetes object (got "
                                      f"{type(obj).__name__}); skipped", where, "error", f"{name}:{line}"))
        return
    kind = obj.get("kind")
    if (isinstance(kind, str) and kind.endswith("List") or kind is None and "items" in obj) and "items" in obj:
        _add_list(obj, name, line, collected, item_lines, label)
        return
    collected.docs.append(Document(obj, where))


def _add_list(obj: Mapping, name: str, line: int, collected: ManifestDocuments, item_lines: list[int] | None,
              label: str) -> None:
    """The items of a List, a typed list (PodList, NetworkPolicyList, ...) or an API list response.

    The API server leaves `kind` and `apiVersion` out of a typed list's items (`kubectl get --raw /api/v1/pods`):
    the list says what they are. As apimachinery decodes such a list (unstructuredJSONScheme.decodeToList in
    k8s.io/apimachinery/pkg/apis/meta/v1/unstructured/helpers.go, which kubectl's resource builder uses), an
    item that names neither takes the list's kind without the `List` suffix and the list's apiVersion. Here an
    item that names one of the two and leaves out the other also gets it, when what it names agrees with the
    list. A plain `List` (kind: List) gives no kind, so its items must name their own.
    """
    items = obj.get("items")
    kind = obj.get("kind")
    where = f"{name}:{line}" + (f" {label}" if label else "")
    if items is None:
        return  # an empty list, as the API server prints one
    if not isinstance(items, list):
        collected.alerts.append(Alert("invalid-field", f"{where}: {kind or 'list'}: items must be a list of "
                                      f"objects, got {type(items).__name__}; skipped", where, "error",
                                      f"{name}:{line}"))
        return
    item_kind = kind[:-len("List")] if isinstance(kind, str) else ""
    list_version = obj.get("apiVersion") if isinstance(obj.get("apiVersion"), str) else None
    for i, item in enumerate(items):
        if isinstance(item, dict) and item_kind:
            has_kind, has_version = item.get("kind") is not None, item.get("apiVersion") is not None
            if not has_kind and (not has_version or item.get("apiVersion") == list_version):
                item["kind"] = item_kind
            if not has_version and list_version and item.get("kind") == item_kind:
                item["apiVersion"] = list_version
        item_line, item_label = (item_lines[i], "") if item_lines is not None and i < len(item_lines) else \
            (line, f"{label + '.' if label else ''}items[{i}]")
        if isinstance(item, Mapping) and not item.get("kind") and not item_kind:
            item_where = f"{name}:{item_line}" + (f" {item_label}" if item_label else "")
            collected.alerts.append(Alert("missing-kind", f"{item_where}: object has no kind (the items of a plain "
                                          "List must name their own kind; a typed list such as PodList gives it to "
                                          "them); skipped", item_where, "error", f"{name}:{item_line}"))
            continue
        _add_object(item, name, item_line, collected, None, item_label)


# --- building the state -----------------------------------------------------------------------------------------
# What cannot be read is dropped in the smallest piece that holds it: one label, one container port, one Service
# port, one endpoint of a slice. The pod keeps what was read and records what was not, so that the verdicts that
# piece could change are `unknown` (model.Pod: uncertain_labels, uncertain_ports, uncertain_identity, opaque), and
# a workload whose pod template cannot be read stays as a pod about which every verdict is unknown. Only an object
# that cannot be told apart at all (no kind, no name, a namespace that is not a string) is skipped whole. Policies
# are passed on as written: the policy layer drops their broken rules, peers and ports the same way.
