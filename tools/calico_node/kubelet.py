"""The kubelet's log endpoint, served by the node agent: HTTPS GET /containerLogs/<ns>/<pod>/<container>.

The API server's pod log subresource (`kubectl logs`, read_namespaced_pod_log) connects to the node's InternalIP
on the port of status.daemonEndpoints.kubeletEndpoint, presenting its kubelet client certificate; we require a
certificate from the cluster's client CA, as a kubelet with --client-ca-file does. The listening socket lives in
the node's network namespace (where the API server runs). Query parameters honoured: tailLines, limitBytes,
follow (until the container exits); timestamps are not recorded, so `timestamps=true` is ignored.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time
import urllib.parse

from . import netns


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _KubeletServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the agent's log is for errors
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        if parts == ["healthz"]:
            return self._send(200, b"ok")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return self._send(404, b"404 page not found\n")
        _, ns, pod, container = parts
        agent = self.server.agent
        path = agent.log_file(ns, pod, container)
        if path is None:
            return self._send(404, f"container {container} of pod {ns}/{pod} is not on this node\n".encode())
        query = urllib.parse.parse_qs(url.query)
        follow = query.get("follow", ["false"])[0] == "true"
        while follow and agent.running(ns, pod, container):
            time.sleep(0.1)  # simple, and enough for short-lived containers: answer once the container is done
        try:
            data = path.read_bytes()
        except OSError:
            data = b""
        tail = query.get("tailLines", [None])[0]
        if tail is not None and tail.isdigit():
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[-int(tail):]) if int(tail) else b""
        limit = query.get("limitBytes", [None])[0]
        if limit is not None and limit.isdigit():
            data = data[:int(limit)]
        self._send(200, data)

    def _send(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _KubeletServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, agent, sock, context: ssl.SSLContext):
        super().__init__(sock.getsockname(), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.agent = agent
        self.context = context

    def get_request(self):
        conn, addr = self.socket.accept()
        conn.settimeout(30)
        try:
            return self.context.wrap_socket(conn, server_side=True), addr
        except (ssl.SSLError, OSError):
            conn.close()
            raise


class KubeletLogServer:
    """HTTPS on (ip, port) inside namespace `netns_name`, with a serving certificate and a client CA."""

    def __init__(self, agent, netns_name: str, ip: str, port: int, cert: str, key: str, client_ca: str):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
        sock = netns.socket_in(netns_name)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(64)
        self.server = _KubeletServer(agent, sock, context)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="kubelet-logs", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
