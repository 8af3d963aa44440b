"""The lossy link of tests/netcut.py: forwards, drops everything when cut, resets the dead."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from .netcut import HOST, LossyLink

TIMEOUT = 5.0
QUIET = 0.3


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(socket_enabled: None) -> None:
    """Replace the suite-wide fixture (no ``hass`` here) and allow the loopback sockets."""


class Server:
    """A loopback server that keeps each accepted connection for the test to use."""

    def __init__(self) -> None:
        """Listen on a free port and accept in a thread."""
        self.listener = socket.create_server((HOST, 0))
        self.port: int = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._new = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            conn.settimeout(TIMEOUT)
            self.accepted.append(conn)
            self._new.release()

    def next(self, timeout: float = TIMEOUT) -> socket.socket | None:
        """Return the next accepted connection, or None after timeout."""
        return self.accepted[-1] if self._new.acquire(timeout=timeout) else None

    def close(self) -> None:
        """Close the listener (ending its thread) and every connection."""
        if self._thread.is_alive():
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread's accept()
            self._thread.join(TIMEOUT)
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture(name="server")
def server_fixture() -> Iterator[Server]:
    """Run a target for the link."""
    server = Server()
    yield server
    server.close()


@pytest.fixture(name="link")
def link_fixture(server: Server) -> Iterator[LossyLink]:
    """Run a link to the server."""
    with LossyLink(server.port) as link:
        yield link


def connect(link: LossyLink) -> socket.socket:
    """Connect a client to the link."""
    client = socket.create_connection((link.host, link.port), timeout=TIMEOUT)
    client.settimeout(TIMEOUT)
    return client


def silent(sock: socket.socket) -> bool:
    """Tell whether nothing arrives on sock for a moment (and it is not closed)."""
    sock.settimeout(QUIET)
    try:
        sock.recv(1)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(TIMEOUT)
    return False


def test_forwards_both_ways_and_closes(server: Server, link: LossyLink) -> None:
    """Bytes cross both ways; a close on one side closes the other."""
    client = connect(link)
    upstream = server.next()
    assert upstream is not None
    client.sendall(b"ping")
    assert upstream.recv(4) == b"ping"
    upstream.sendall(b"pong")
    assert client.recv(4) == b"pong"
    upstream.close()
    assert client.recv(1) == b""
    client.close()


def test_cut_drops_everything_and_resets_what_died(server: Server, link: LossyLink) -> None:
    """While cut nothing crosses and a close is not told; afterwards the survivor is reset."""
    client = connect(link)
    upstream = server.next()
    assert upstream is not None
    link.cut()
    assert link.is_cut
    client.sendall(b"lost")
    assert silent(upstream)
    upstream.close()  # the far end gives up (the broker's keepalive)
    assert silent(client)  # and nobody tells the client
    link.restore()
    with pytest.raises(ConnectionResetError):
        client.recv(1)
    assert link.resets == 1
    client.close()


def test_a_connection_alive_at_both_ends_carries_on(server: Server, link: LossyLink) -> None:
    """What was written during a short cut arrives after it, as TCP retransmits it."""
    client = connect(link)
    upstream = server.next()
    assert upstream is not None
    link.cut()
    client.sendall(b"late")
    upstream.sendall(b"also")
    assert silent(upstream)
    assert silent(client)
    link.restore()
    assert upstream.recv(4) == b"late"
    assert client.recv(4) == b"also"
    assert link.resets == 0
    client.close()


def test_a_client_connecting_during_a_cut_waits(server: Server, link: LossyLink) -> None:
    """A new connection reaches nobody while cut, and the target once restored."""
    link.cut()
    client = connect(link)
    client.sendall(b"hello")
    assert server.next(QUIET) is None
    link.restore()
    upstream = server.next()
    assert upstream is not None
    assert upstream.recv(5) == b"hello"
    client.close()


def test_a_refused_target_resets_the_client(server: Server) -> None:
    """Nothing listens on the target: the client's connection is reset."""
    server.close()
    with LossyLink(server.port) as link:
        client = connect(link)
        with pytest.raises(ConnectionResetError):
            client.recv(1)
        client.close()
        assert link.accepted == 1


def test_close_while_cut(server: Server) -> None:
    """Closing a cut link closes its parked and its cut connections."""
    link = LossyLink(server.port)
    link.start()
    client = connect(link)
    assert server.next() is not None
    link.cut()
    parked = connect(link)
    deadline = time.monotonic() + TIMEOUT
    while link.accepted < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    link.close()
    assert client.recv(1) == b""
    assert parked.recv(1) == b""
