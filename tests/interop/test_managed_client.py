"""The managed client (examples/managed_client.rs) against Python's
`websockets` as the server: events in order across a server killed
mid-stream and started again, every message whole or not at all, a server
that stops answering dropped by the pong timeout, a 403 reported with its
status.

Build the client first: cargo build --release --example managed_client
Run: python3 -m pytest -v tests/interop
"""

import os
import pathlib
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
CLIENT = HERE.parents[1] / "target/release/examples/managed_client"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lines_of(proc):
    q = queue.Queue()
    threading.Thread(target=lambda: [q.put(l.rstrip()) for l in proc.stdout], daemon=True).start()
    return q


def start_server(port, mode):
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "stream_server.py"), str(port), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "listening"
    return proc


class Client:
    def __init__(self, port, ping_ms=10_000, pong_ms=10_000, reconnect_ms=200):
        self.proc = subprocess.Popen(
            [str(CLIENT), f"ws://127.0.0.1:{port}/", str(ping_ms), str(pong_ms), str(reconnect_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.q = lines_of(self.proc)
        self.seen = []

    def send(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def wait(self, pred, timeout=20, what=""):
        """Lines until one matches `pred`; all of them are kept in `seen`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if pred(line):
                return line
        raise AssertionError(f"no line for {what!r}; seen {self.seen[-30:]!r}")

    def messages_ok(self, n, timeout=20):
        for _ in range(n):
            self.wait(lambda l: l.startswith("message binary"), timeout, "a message")
            assert self.seen[-1].endswith(" ok"), self.seen[-1]

    def finish(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=15)
        for line in self.proc.stdout:
            self.seen.append(line.rstrip())


def test_events_in_order_across_a_server_restart():
    port = free_port()
    server = start_server(port, "stream")
    c = Client(port, reconnect_ms=200)
    try:
        c.wait(lambda l: l.startswith("connected"), what="connected")
        c.messages_ok(5)
        c.send("text hello")
        c.wait(lambda l: l == "message text len=5 unchecked", what="the text echoed")
        # Killed mid-stream: no close frame, a message likely cut.
        server.send_signal(signal.SIGKILL)
        server.wait()
        c.wait(lambda l: l.startswith("disconnected"), what="disconnected")
        assert c.seen[-1].startswith("disconnected lost"), c.seen[-1]
        # Down for a while: tries fail with connect errors.
        c.wait(lambda l: l.startswith("disconnected ConnectFailed"), what="a failed reconnect")
        server = start_server(port, "stream")
        c.wait(lambda l: l.startswith("connected"), what="connected again")
        c.messages_ok(5)
        c.send("close")
        c.wait(lambda l: l.startswith("closed"), what="closed")
        assert c.seen[-1] == "closed Closed { clean: true }", c.seen[-1]
        c.finish()
    finally:
        server.kill()
        c.proc.kill()
    # The order: nothing between a disconnect and the next connect but
    # errors and disconnects; every message checked whole.
    assert not [l for l in c.seen if "corrupt" in l], c.seen
    state = "down"
    for line in c.seen:
        if line.startswith("connected"):
            assert state == "down", c.seen
            state = "up"
        elif line.startswith("disconnected"):
            state = "down"
        elif line.startswith("message"):
            assert state == "up", f"a message while disconnected: {c.seen}"
        elif line.startswith("closed"):
            state = "closed"
    assert state == "closed"
    assert sum(l.startswith("connected") for l in c.seen) == 2


def test_a_server_that_stops_answering_meets_the_pong_timeout():
    port = free_port()
    server = start_server(port, "echo")
    c = Client(port, ping_ms=300, pong_ms=700, reconnect_ms=200)
    try:
        c.wait(lambda l: l.startswith("connected"), what="connected")
        server.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        c.wait(lambda l: l.startswith("disconnected"), timeout=10, what="disconnected")
        assert c.seen[-1] == "disconnected PongTimeout", c.seen
        assert time.monotonic() - t0 < 5
        c.send("stop")
        c.wait(lambda l: l.startswith("closed"), what="closed")
        assert c.seen[-1] == "closed Stopped", c.seen
        c.finish()
    finally:
        server.send_signal(signal.SIGCONT)
        server.kill()
        c.proc.kill()


def test_a_refused_handshake_reports_its_http_status():
    port = free_port()
    server = start_server(port, "forbid")
    c = Client(port, reconnect_ms=200)
    try:
        c.wait(lambda l: l.startswith("error"), what="the error")
        assert c.seen[-1] == 'error status=403 reason="Forbidden"', c.seen
        c.wait(lambda l: l.startswith("disconnected"), what="disconnected")
        assert c.seen[-1] == "disconnected ConnectFailed", c.seen
        c.send("stop")
        c.wait(lambda l: l.startswith("closed"), what="closed")
        c.finish()
    finally:
        server.kill()
        c.proc.kill()
    assert not [l for l in c.seen if l.startswith("connected")], c.seen


def test_stop_cuts_a_handshake_the_server_never_answers():
    """A server that accepts TCP and never answers the upgrade: `stop`
    ends the client at once, without waiting out the handshake timeout,
    and reports no error for the try it cut (found by a first use: stop
    waited 7 s there)."""
    port = free_port()
    silent = socket.socket()
    silent.bind(("127.0.0.1", port))
    silent.listen(8)
    c = Client(port, reconnect_ms=200)
    try:
        conn, _ = silent.accept()
        time.sleep(0.3)
        t0 = time.monotonic()
        c.send("stop")
        c.wait(lambda l: l.startswith("closed"), timeout=5, what="closed")
        assert time.monotonic() - t0 < 1.0, "stop waited for the handshake timeout"
        assert c.seen[-1] == "closed Stopped", c.seen
        c.finish()
        conn.close()
    finally:
        silent.close()
        c.proc.kill()
    assert not [l for l in c.seen if l.startswith(("error", "disconnected", "connected"))], c.seen
