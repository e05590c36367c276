"""A deliberately naive, independent evaluator of Kubernetes NetworkPolicy, for differential tests.

It reads the manifests as plain dicts and answers one question at a time: may pod S open (protocol, port) on
destination D? It shares no code with auditor/ (no IR, no classes, no port sets): every rule is written the way the
Kubernetes documentation states it, so an engine bug and an oracle bug are unlikely to coincide.
"""

from __future__ import annotations

import ipaddress


def _selector_matches(selector: dict, labels: dict) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Oracle:
    def __init__(self, objects: list[dict]):
        self.namespaces = {}
        self.pods = {}
        self.policies = []
        for obj in objects:
            kind = obj["kind"]
            meta = obj["metadata"]
            if kind == "Namespace":
                labels = dict(meta.get("labels") or {})
                labels["kubernetes.io/metadata.name"] = meta["name"]
                self.namespaces[meta["name"]] = labels
            elif kind == "Pod":
                self.pods[f"{meta['namespace']}/{meta['name']}"] = obj
            elif kind == "NetworkPolicy":
                self.policies.append(obj)

    def _types(self, policy: dict) -> list[str]:
        spec = policy["spec"]
        if spec.get("policyTypes"):
            return spec["policyTypes"]
        return ["Ingress"] + (["Egress"] if spec.get("egress") else [])

    def _selecting(self, pod_id: str, direction: str) -> list[dict]:
        pod = self.pods[pod_id]
        out = []
        for policy in self.policies:
            if policy["metadata"]["namespace"] != pod["metadata"]["namespace"]:
                continue
            if pod["spec"].get("hostNetwork"):
                continue  # Calico: no workload endpoint for hostNetwork pods
            if direction not in self._types(policy):
                continue
            if _selector_matches(policy["spec"].get("podSelector") or {}, pod["metadata"].get("labels") or {}):
                out.append(policy)
        return out

    def _ip(self, endpoint: str):
        if endpoint.startswith("ip:"):
            return ipaddress.ip_address(endpoint[3:])
        ip = (self.pods[endpoint].get("status") or {}).get("podIP")
        return ipaddress.ip_address(ip) if ip else None

    def _peer_matches(self, peer: dict, policy_ns: str, other: str) -> bool:
        if "ipBlock" in peer:
            ip = self._ip(other)
            if ip is None:
                return False
            block = peer["ipBlock"]
            net = ipaddress.ip_network(block["cidr"], strict=False)
            if ip.version != net.version or ip not in net:
                return False
            for exc in block.get("except") or []:
                e = ipaddress.ip_network(exc, strict=False)
                if ip.version == e.version and ip in e:
                    return False
            return True
        if other.startswith("ip:"):
            return False
        pod = self.pods[other]
        if pod["spec"].get("hostNetwork"):
            return False
        pod_ns = pod["metadata"]["namespace"]
        if "namespaceSelector" in peer:
            if not _selector_matches(peer["namespaceSelector"], self.namespaces.get(pod_ns, {})):
                return False
        elif pod_ns != policy_ns:
            return False
        if "podSelector" in peer:
            return _selector_matches(peer["podSelector"], pod["metadata"].get("labels") or {})
        return True

    def _named_port(self, dst: str, name: str, protocol: str) -> list[int]:
        if dst.startswith("ip:"):
            return []
        found = []
        for container in self.pods[dst]["spec"].get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == name and (port.get("protocol") or "TCP") == protocol:
                    found.append(port["containerPort"])
        return found

    def _port_matches(self, ports: list | None, dst: str, protocol: str, port: int) -> bool:
        if not ports:
            return True
        for entry in ports:
            proto = entry.get("protocol") or "TCP"
            if proto != protocol:
                continue
            value = entry.get("port")
            if value is None:
                return True
            if isinstance(value, str):
                if port in self._named_port(dst, value, proto):
                    return True
                continue
            end = entry.get("endPort") or value
            if value <= port <= end:
                return True
        return False

    def _direction_allows(self, local: str, other: str, direction: str, protocol: str, port: int, dst: str) -> bool:
        if local.startswith("ip:"):
            return True
        pod = self.pods[local]
        if pod["spec"].get("hostNetwork"):
            return True
        policies = self._selecting(local, direction)
        if not policies:
            return True
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for policy in policies:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if peers and not any(self._peer_matches(p, policy["metadata"]["namespace"], other) for p in peers):
                    continue
                if self._port_matches(rule.get("ports"), dst, protocol, port):
                    return True
        return False

    def allowed(self, src: str, dst: str, protocol: str, port: int) -> bool:
        return (self._direction_allows(src, dst, "Egress", protocol, port, dst)
                and self._direction_allows(dst, src, "Ingress", protocol, port, dst))
