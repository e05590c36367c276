"""The library API: ``load -> analyze -> render``, the same steps the CLI takes.

    from auditor import analysis
    state = analysis.load(manifests=["examples/shop"])
    result = analysis.analyze(state)
    view = result.matrix_view(level="workload")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .engine.classes import Universe, build_universe
from .engine.evaluate import ClassMatrix, Evaluator, class_matrix
from .model import Alert, ClusterState
from .policy.ir import PolicySet
from .policy.translate import TranslateOptions, translate
from .sets.ports import ICMP, ICMPV6, OTHER, PORT_PROTOCOLS


@dataclass(frozen=True)
class AnalyzeOptions:
    promote_staged: bool = False
    calico_version: str | None = None


@dataclass
class Analysis:
    state: ClusterState
    policies: PolicySet
    universe: Universe
    matrix: ClassMatrix
    alerts: list[Alert] = field(default_factory=list)
    options: AnalyzeOptions = AnalyzeOptions()

    @property
    def protocols(self) -> tuple[str, ...]:
        """Protocols worth listing: TCP/UDP/SCTP always, ICMP and others only when some policy names them."""
        extra = tuple(p for p in (ICMP, ICMPV6, OTHER) if p in self.policies.protocols)
        return PORT_PROTOCOLS + extra

    @property
    def evaluator(self) -> Evaluator:
        """The analysis's evaluator, so explain and the checks reuse the masks the matrix computed."""
        if self.matrix.evaluator is None:
            self.matrix.evaluator = Evaluator(self.universe, self.policies,
                                              include_staged=self.options.promote_staged)
        return self.matrix.evaluator

    def matrix_view(self, level: str = "pod", namespaces: Sequence[str] = ()):
        """Every pair, in memory: for small clusters and tests (outputs stream `engine.matrix.iter_connections`)."""
        from .engine.matrix import expand
        return expand(self, level, namespaces)

    def grouped_view(self, level: str = "pod", namespaces: Sequence[str] = ()):
        """Groups of endpoints and connections between them: size grows with blocks, not pairs (cached)."""
        from .engine.groups import grouped_view
        cache = self.__dict__.setdefault("_grouped", {})
        key = (level, tuple(sorted(namespaces)))
        if key not in cache:
            cache[key] = grouped_view(self, level, namespaces)
        return cache[key]


def load(*, manifests: Sequence[str] = (), snapshot: str | None = None, **live_options) -> ClusterState:
    """Read a ClusterState from manifests, a snapshot, or (with neither) the live cluster."""
    if manifests:
        from .sources.manifests import load_manifests
        return load_manifests(manifests)
    if snapshot:
        from .sources.snapshot import read_snapshot
        return read_snapshot(snapshot)
    from .sources.live import load_live
    return load_live(**live_options)


def analyze(state: ClusterState, options: AnalyzeOptions = AnalyzeOptions()) -> Analysis:
    policies, alerts = translate(state, TranslateOptions(options.promote_staged, options.calico_version))
    universe = build_universe(state, policies)
    matrix = class_matrix(universe, policies, include_staged=options.promote_staged)
    all_alerts = list(state.alerts) + alerts + universe.alerts
    return Analysis(state, policies, universe, matrix, all_alerts, options)
