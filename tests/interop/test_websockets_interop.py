"""sansws against Python's `websockets` (an independent implementation):
its client against our server, our client against its server. Text,
binary, a fragmented message, 4 MiB, ping/pong, close codes and reasons in
both directions, a subprotocol.

Build the peer first: cargo build --release --example interop
Run: python3 -m pytest -v tests/interop
"""

import os
import pathlib
import queue
import socket
import subprocess
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import serve

PEER = pathlib.Path(__file__).resolve().parents[2] / "target/release/examples/interop"
# Each scenario runs against both adapters: `interop` (blocking, a thread
# per connection) and `interop_async` (tokio, the same contract).
PEERS = ["interop", "interop_async"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=PEERS)
def sansws_server(request):
    port = free_port()
    proc = subprocess.Popen([str(PEER.parent / request.param), "server", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.rstrip()) for l in proc.stdout], daemon=True).start()
    assert "listening" in lines.get(timeout=10)
    yield port, lines
    proc.terminate()
    proc.wait(timeout=10)


def wait_for_line(lines, text, timeout=10):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=deadline - time.monotonic())
        except queue.Empty:
            break
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"{text!r} not in server output {seen!r}")


def test_python_client_against_sansws_server(sansws_server):
    port, lines = sansws_server
    url = f"ws://127.0.0.1:{port}/"
    with connect(url, subprotocols=["echo.v1"], max_size=8 << 20, open_timeout=5, close_timeout=5) as ws:
        assert ws.subprotocol == "echo.v1"
        ws.send("hello from python")
        assert ws.recv(timeout=5) == "hello from python"
        ws.send(b"\x00\x01\xfe\xff")
        assert ws.recv(timeout=5) == b"\x00\x01\xfe\xff"
        ws.send(["frag", "men", "té"])  # one message in three fragments
        assert ws.recv(timeout=5) == "fragmenté"
        big = os.urandom(4 << 20)
        ws.send(big)
        assert ws.recv(timeout=10) == big
        assert ws.ping(b"ping from python").wait(timeout=5)
        ws.close(4001, "python client bye")
    assert ws.protocol.close_rcvd.code == 4001  # our server echoed the code
    wait_for_line(lines, 'peer closed with 4001 "python client bye"')

    # The server closes, with a code and a reason.
    with connect(url, subprotocols=["echo.v1"], open_timeout=5, close_timeout=5) as ws:
        ws.send("please close")
        # websockets raises ConnectionClosedError for codes other than 1000/1001.
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4002, "sansws says bye")
    wait_for_line(lines, "server closed with 4002: Ok(Some(Clean))")


@pytest.mark.parametrize("peer", PEERS)
def test_sansws_client_against_python_server(peer):
    received = []

    def handler(ws):
        try:
            for msg in ws:
                if msg == "please close":
                    ws.close(4003, "python says bye")
                    return
                ws.send(msg)
        finally:
            rcvd = ws.protocol.close_rcvd
            received.append((rcvd.code, rcvd.reason) if rcvd else None)

    port = free_port()
    with serve(handler, "127.0.0.1", port, subprotocols=["echo.v1"], max_size=8 << 20) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        run = subprocess.run([str(PEER.parent / peer), "client", f"ws://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=60)
        server.shutdown()
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "subprotocol echo.v1 agreed" in run.stdout
    assert "text, binary, fragmented, 4 MiB, ping/pong: ok" in run.stdout
    assert 'server closed with 4003 "python says bye"' in run.stdout
    assert (4003, "") in received or (4003, "python says bye") in received  # our echo of its close
    assert (4004, "sansws client bye") in received  # our close, code and reason
