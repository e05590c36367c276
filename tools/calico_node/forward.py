"""A TCP relay from the machine's loopback into a network namespace: 127.0.0.1:<port> here -> <host>:<port> there.

The API server listens inside the node's namespace; kubectl, netaudit and the tests run in the machine's own
namespace, which must not be changed (no veth or route into it). A userspace relay needs neither: its listening
socket is an ordinary loopback server, and each upstream socket is made inside the node's namespace.
"""

from __future__ import annotations

import socket
import threading

from . import netns


class Relay:
    def __init__(self, listen_port: int, netns_name: str, target_host: str, target_port: int):
        self.netns_name = netns_name
        self.target = (target_host, target_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", listen_port))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="api-relay", daemon=True)

    def start(self) -> Relay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = netns.connect_in(self.netns_name, *self.target, timeout=10)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        done = threading.Event()
        t = threading.Thread(target=_pump, args=(upstream, client, done), daemon=True)
        t.start()
        _pump(client, upstream, done)
        t.join()
        client.close()
        upstream.close()


def _pump(src: socket.socket, dst: socket.socket, done: threading.Event) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        done.set()
