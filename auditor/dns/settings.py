"""Cluster DNS settings (domain, pods mode) from the CoreDNS Corefile, with kubeadm's defaults when absent."""

from __future__ import annotations

from ..model import Alert, ClusterState
from .names import DnsSettings


def dns_settings(state: ClusterState) -> tuple[DnsSettings, list[Alert]]:
    if not state.corefile:
        return DnsSettings(), []
    from .corefile import CorefileError, parse_corefile
    where = state.corefile_source or "ConfigMap kube-system/coredns"
    try:
        corefile = parse_corefile(state.corefile)
    except CorefileError as err:
        return DnsSettings(source=f"defaults ({where} did not parse)"), [
            Alert("corefile-invalid", f"{where}: {err}; DNS names use the defaults (cluster.local, pods disabled)",
                  "ConfigMap kube-system/coredns")]
    alerts = [Alert("corefile-warning", f"{where}: {w}", "ConfigMap kube-system/coredns") for w in corefile.warnings]
    plugin = corefile.kubernetes()
    if plugin is None:
        return DnsSettings(source=f"{where} (no kubernetes plugin: cluster names are not served)"), alerts + [
            Alert("corefile-no-kubernetes", f"{where}: no `kubernetes` plugin: CoreDNS serves no cluster names",
                  "ConfigMap kube-system/coredns")]
    return DnsSettings(domain=corefile.cluster_domain() or "cluster.local", pods_mode=plugin.pods,
                       endpoint_pod_names=plugin.endpoint_pod_names, source=where), alerts
