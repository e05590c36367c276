"""The DNS names cluster DNS serves for Pods and Services (kubernetes.io "DNS for Services and Pods", CoreDNS's
kubernetes plugin README), under the cluster's real domain and pods mode.

| record | name | value |
|---|---|---|
| Service A/AAAA | svc.ns.svc.zone | ClusterIPs; headless: IPs of ready endpoints (all with publishNotReadyAddresses) |
| headless per endpoint | host.svc.ns.svc.zone | endpoint hostname, else pod name (endpoint_pod_names), else dashed IP |
| pod hostname+subdomain | hostname.subdomain.ns.svc.zone | when a headless Service named `subdomain` selects it |
| SRV | _port._proto.svc.ns.svc.zone | per named Service port |
| ExternalName | svc.ns.svc.zone | CNAME |
| pod A | a-b-c-d.ns.pod.zone | with `pods insecure` or `pods verified` (not with the default `pods disabled`) |
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..engine.services import service_backends
from ..model import ClusterState

DEFAULT_DOMAIN = "cluster.local"


@dataclass(frozen=True)
class DnsRecord:
    name: str
    type: str  # A, AAAA, SRV, CNAME
    value: str
    owner: str  # "Service x/web", "Pod x/a"


@dataclass(frozen=True)
class DnsSettings:
    domain: str = DEFAULT_DOMAIN
    pods_mode: str = "disabled"  # disabled | insecure | verified
    endpoint_pod_names: bool = False
    source: str = "defaults (no Corefile read)"


def dashed(ip: str) -> str:
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ip.replace(".", "-")
    return address.exploded.replace(":", "-")


def _record_type(ip: str) -> str:
    return "AAAA" if ipaddress.ip_address(ip).version == 6 else "A"


def dns_records(state: ClusterState, settings: DnsSettings) -> list[DnsRecord]:
    zone = settings.domain.rstrip(".")
    records: list[DnsRecord] = []
    backends = {}
    for spb in service_backends(state):
        backends.setdefault((spb.service.namespace, spb.service.name), []).extend(spb.backends)
    headless_names = {(s.namespace, s.name) for s in state.services if s.headless}
    pods_by_id = {p.id: p for p in state.pods}
    for svc in state.services:
        owner = f"Service {svc.namespace}/{svc.name}"
        base = f"{svc.name}.{svc.namespace}.svc.{zone}"
        if svc.type == "ExternalName":
            records.append(DnsRecord(base, "CNAME", svc.external_name or "", owner))
            continue
        if not svc.headless:
            for ip in svc.cluster_ips:
                records.append(DnsRecord(base, _record_type(ip), ip, owner))
        else:
            seen = set()
            for backend in backends.get((svc.namespace, svc.name), []):
                if backend.pod is None or backend.pod.id in seen:
                    continue
                if not backend.ready and not svc.publish_not_ready_addresses:
                    continue
                seen.add(backend.pod.id)
                pod = backend.pod
                for ip in pod.ips:
                    records.append(DnsRecord(base, _record_type(ip), ip, owner))
                    host = pod.hostname if pod.hostname and pod.subdomain == svc.name else (
                        pod.name if settings.endpoint_pod_names else dashed(ip))
                    records.append(DnsRecord(f"{host}.{base}", _record_type(ip), ip, owner))
        for port in svc.ports:
            if port.name:
                target = base
                records.append(DnsRecord(f"_{port.name}._{port.protocol.lower()}.{base}", "SRV",
                                         f"0 100 {port.port} {target}.", owner))
    for pod in pods_by_id.values():
        owner = f"Pod {pod.id}"
        if pod.hostname and pod.subdomain and (pod.namespace, pod.subdomain) in headless_names:
            for ip in pod.ips:
                records.append(DnsRecord(f"{pod.hostname}.{pod.subdomain}.{pod.namespace}.svc.{zone}",
                                         _record_type(ip), ip, owner))
        if settings.pods_mode in ("insecure", "verified") and not pod.host_network:
            for ip in pod.ips:
                records.append(DnsRecord(f"{dashed(ip)}.{pod.namespace}.pod.{zone}", _record_type(ip), ip, owner))
    # Deduplicate (a headless record can be produced by the Service and by the pod's hostname/subdomain).
    unique = list(dict.fromkeys(records))
    unique.sort(key=lambda r: (r.name, r.type, r.value))
    return unique
