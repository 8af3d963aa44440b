"""A loopback TCP proxy whose link can be cut: a network that drops every packet.

``LossyLink(target_port)`` listens on a free loopback port and forwards each connection
to ``127.0.0.1:target_port``, both ways. A client that should go through an unreliable
network (a remote board's agent on Wi-Fi) connects to ``link.port`` instead of the
broker.

``cut()`` drops everything, as a dead Wi-Fi or a pulled cable does, without telling
anyone: nothing crosses in either direction and no close reaches the other side. What
each side writes stays queued in the sockets, as unacknowledged segments do in a real
TCP stack. A client that connects meanwhile is parked: its bytes go nowhere.

``restore()`` lets traffic cross again. Connections whose both ends are still open carry
on (TCP would have retransmitted); where one end gave up meanwhile (the broker's
keepalive), the other end is reset, as a host answers a segment of a connection it has
forgotten. Parked clients are connected to the target now.

No root, no iptables, no traffic control: a thread with a selector, started by
``start`` (or ``with``) and stopped by ``close``.
"""

import contextlib
import selectors
import socket
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"
CHUNK = 65536


@dataclass(eq=False, slots=True)
class _Pair:
    """A client's connection and its connection to the target (None while parked)."""

    client: socket.socket
    upstream: socket.socket | None
    sockets: list[socket.socket] = field(default_factory=list)

    def other(self, sock: socket.socket) -> socket.socket | None:
        return self.upstream if sock is self.client else self.client


def _closed(sock: socket.socket) -> bool:
    """Tell whether the far end of sock has closed (nothing but the end is left to read)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _reset(sock: socket.socket | None) -> None:
    """Close with an RST (SO_LINGER 0), not a FIN."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class LossyLink:
    """A TCP proxy on a free loopback port to ``host:target_port``; see the module."""

    def __init__(self, target_port: int, host: str = HOST) -> None:
        """Bind the listening socket; nothing is forwarded until ``start``."""
        self.target = (host, target_port)
        self._listener = socket.create_server((host, 0))
        self._listener.setblocking(False)
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = socket.socketpair()
        self._lock = threading.Lock()
        self._commands: list[tuple[str, threading.Event]] = []
        self._pairs: list[_Pair] = []
        self._cut = False
        self._thread = threading.Thread(target=self._run, name="lossy-link", daemon=True)
        self.accepted = 0
        self.resets = 0

    # -- the caller's side -----------------------------------------------------------

    def start(self) -> None:
        """Start forwarding in a thread."""
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._thread.start()

    @property
    def is_cut(self) -> bool:
        """Tell whether the link drops everything now."""
        return self._cut

    def cut(self) -> None:
        """Drop everything from now on (returns once it is in effect)."""
        self._command("cut")

    def restore(self) -> None:
        """Forward again (returns once it is in effect); see the module."""
        self._command("restore")

    def close(self) -> None:
        """Stop the thread and close every socket."""
        if self._thread.is_alive():
            self._command("close")
            self._thread.join(5)
        for sock in (self._listener, self._wake_read, self._wake_write):
            sock.close()

    def _command(self, name: str) -> None:
        done = threading.Event()
        with self._lock:
            self._commands.append((name, done))
        self._wake_write.send(b"x")
        if not done.wait(5):
            raise RuntimeError(f"the lossy link did not {name} within 5 s")

    def __enter__(self) -> Self:
        """Start forwarding."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop forwarding and close everything."""
        self.close()

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            for key, _events in self._selector.select():
                sock = key.fileobj
                if sock is self._wake_read:
                    self._wake_read.recv(CHUNK)
                    if not self._run_commands():
                        return
                elif sock is self._listener:
                    self._accept()
                else:
                    assert isinstance(sock, socket.socket)
                    assert isinstance(key.data, _Pair)
                    self._forward(key.data, sock)

    def _run_commands(self) -> bool:
        with self._lock:
            commands, self._commands = self._commands, []
        running = True
        for name, done in commands:
            if name == "cut":
                self._cut = True
                for pair in self._pairs:
                    for sock in pair.sockets:
                        self._selector.unregister(sock)
                    pair.sockets = []
            elif name == "restore":
                self._cut = False
                for pair in list(self._pairs):
                    if pair.upstream is None:
                        self._connect(pair)
                    elif _closed(pair.client) or _closed(pair.upstream):
                        self._drop(pair, reset=True)
                    else:
                        self._watch(pair)
            else:
                for pair in list(self._pairs):
                    self._drop(pair, reset=False)
                self._selector.close()
                running = False
            done.set()
        return running

    def _accept(self) -> None:
        try:
            client, _address = self._listener.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        client.setblocking(True)
        pair = _Pair(client, None)
        self._pairs.append(pair)
        if not self._cut:
            self._connect(pair)

    def _connect(self, pair: _Pair) -> None:
        """Open the pair's connection to the target; a refusal resets the client."""
        try:
            pair.upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            self._drop(pair, reset=True)
            return
        pair.upstream.settimeout(None)
        self._watch(pair)

    def _watch(self, pair: _Pair) -> None:
        assert pair.upstream is not None
        pair.sockets = [pair.client, pair.upstream]
        for sock in pair.sockets:
            self._selector.register(sock, selectors.EVENT_READ, pair)

    def _forward(self, pair: _Pair, sock: socket.socket) -> None:
        other = pair.other(sock)
        try:
            data = sock.recv(CHUNK)
            if data and other is not None:
                other.sendall(data)
        except OSError:
            data = b""
        if not data:
            self._drop(pair, reset=False)

    def _drop(self, pair: _Pair, *, reset: bool) -> None:
        for sock in pair.sockets:
            self._selector.unregister(sock)
        pair.sockets = []
        if reset:
            self.resets += 1
            _reset(pair.client)
            _reset(pair.upstream)
        else:
            pair.client.close()
            if pair.upstream is not None:
                pair.upstream.close()
        self._pairs.remove(pair)
