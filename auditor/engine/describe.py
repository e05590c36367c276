"""A short, exact phrase for a group of endpoints: "all 10,000 pods", "pods of namespaces with team=t1",
"workloads of namespace shop with tier=db", "x/a, x/b".

Exactness first: every phrase is checked against the group's class mask before it is offered (a label phrase
must select exactly those classes), and the shortest exact phrase wins. When no phrase fits, the description says
only what is certainly true ("27 pods in 3 namespaces"); the members are always the truth.
"""

from __future__ import annotations

from ..sets.addresses import IpSet
from .matrix import LevelMap

NOUNS = {"pod": "pods", "workload": "workloads", "namespace": "namespaces"}
LIST_LIMIT = 3  # name the members outright when there are at most this many


class Describer:
    def __init__(self, analysis, lm: LevelMap):
        self.uni = analysis.universe
        self.level = lm.level
        self.noun = NOUNS[lm.level]
        self.index = analysis.evaluator.index
        self.ns_masks = dict(self.uni.by_namespace)
        self.ns_labels = {ns: dict(analysis.state.namespace_labels(ns)) for ns in self.ns_masks}
        self.external_mask = self.uni.all_mask & ~self.uni.pod_mask
        self.cluster_endpoints = sum(1 for e in lm.endpoints.values() if not e.external)
        self.lm = lm

    def describe(self, mask: int, members: tuple[str, ...]) -> str:
        parts = []
        pods = mask & self.uni.pod_mask
        if pods:
            cluster = [m for m in members if not self.lm.endpoints[m].external]
            parts.append(self._cluster(pods, cluster))
        if mask & self.external_mask:
            parts.append(self._external(mask & self.external_mask))
        return " and ".join(parts)

    # --- cluster endpoints ---------------------------------------------------------------------------------------
    def _cluster(self, pods: int, members: list[str]) -> str:
        count = len(members)
        if pods == self.uni.pod_mask:
            return f"all {count:,} {self.noun}"
        namespaces = sorted(ns for ns, m in self.ns_masks.items() if m & pods)
        if self.level == "namespace":
            return self._namespace_set(namespaces)
        candidates = []
        whole = all(not self.ns_masks[ns] & ~pods for ns in namespaces)
        if whole:
            candidates.append(f"{self.noun} of {self._namespace_set(namespaces)}")
        else:
            candidates.extend(self._by_labels(pods, namespaces))
        if self.cluster_endpoints - count <= LIST_LIMIT:
            chosen = set(members)
            rest = sorted(e.id for e in self.lm.endpoints.values() if not e.external and e.id not in chosen)
            candidates.append(f"all {self.noun} except " + ", ".join(rest))
        if count <= LIST_LIMIT:
            candidates.append(", ".join(members))
        if not candidates:
            where = f"namespace {namespaces[0]}" if len(namespaces) == 1 else f"{len(namespaces)} namespaces"
            candidates.append(f"{count:,} {self.noun} in {where}")
        return min(candidates, key=len)

    def _by_labels(self, pods: int, namespaces: list[str]) -> list[str]:
        first = self.uni.classes[(pods & -pods).bit_length() - 1]
        out = []
        for key, value in sorted(first.info.labels.items()):
            labelled = self.index.label.get((key, value), 0)
            if not labelled & pods or pods & ~labelled:
                continue  # the label must hold for every class of the group
            if len(namespaces) == 1 and labelled & self.ns_masks[namespaces[0]] == pods:
                out.append(f"{self.noun} of namespace {namespaces[0]} with {key}={value}")
            if labelled == pods:
                out.append(f"{self.noun} with {key}={value} in any namespace")
            for ns_key, ns_value in sorted(self.ns_labels[namespaces[0]].items()):
                scope = 0
                for ns, labels in self.ns_labels.items():
                    if labels.get(ns_key) == ns_value:
                        scope |= self.ns_masks[ns]
                if labelled & scope == pods:
                    out.append(f"{self.noun} with {key}={value} in namespaces with {ns_key}={ns_value}")
        return out

    def _namespace_set(self, names: list[str]) -> str:
        every = sorted(self.ns_masks)
        if names == every:
            return f"all {len(every):,} namespaces"
        if len(names) == 1:
            return f"namespace {names[0]}"
        candidates = []
        chosen = set(names)
        for key, value in sorted(self.ns_labels[names[0]].items()):
            selected = {ns for ns, labels in self.ns_labels.items() if labels.get(key) == value}
            if selected == chosen:
                candidates.append(f"namespaces with {key}={value}")
        others = [ns for ns in every if ns not in chosen]
        if len(others) <= 2:
            candidates.append("all namespaces except " + ", ".join(others))
        if len(names) <= LIST_LIMIT:
            candidates.append("namespaces " + ", ".join(names))
        return min(candidates, key=len) if candidates else f"{len(names):,} namespaces"

    # --- addresses outside the cluster -------------------------------------------------------------------------
    def _external(self, mask: int) -> str:
        """Regions as one CIDR minus what is missing from it when that is short (exact: computed on the sets)."""
        if mask == self.external_mask:
            return "all external addresses"
        regions = [self.uni.classes[i].region for i in self.uni.indices(mask)]
        candidates = []
        if len(regions) <= LIST_LIMIT:
            candidates.append("; ".join(r.describe() for r in regions))
        covered = IpSet()
        for region in regions:
            covered = covered | (IpSet.of(region.cidr) - IpSet.of(*region.excepts))
        widest = min((r.cidr for r in regions), key=lambda n: (n.prefixlen, n.version))
        if all(r.cidr.version == widest.version and r.cidr.subnet_of(widest) for r in regions):
            missing = (IpSet.of(widest) - covered).networks()
            if len(missing) <= 4:
                candidates.append(f"{widest}" + (" except " + ", ".join(map(str, missing)) if missing else ""))
        if not candidates:
            candidates.append(f"{len(regions)} external address ranges")
        return min(candidates, key=len)
