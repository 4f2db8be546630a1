"""permessage-deflate (RFC 7692) between sansws and Python's `websockets`,
both directions: its defaults, and with window bits and no context
takeover asked for. Each test asserts what was agreed, that compressed
frames (RSV1) actually went both ways, and that every message came back
intact (JSON-like text, binary, fragments, 4 MiB of random bytes).

Build the peer first: cargo build --release --example interop
Run: python3 -m pytest -v tests/interop
"""

import json
import os
import pathlib
import subprocess
import threading

from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Opcode
from websockets.sync.client import connect
from websockets.sync.server import serve

from test_websockets_interop import PEER, free_port, sansws_server, wait_for_line  # noqa: F401

DATA = (Opcode.TEXT, Opcode.BINARY)


def count_compressed(ws):
    """Counts the data frames with RSV1 the peer sent to `ws` (inflated by
    websockets' own PerMessageDeflate); returns the counter (a list)."""
    seen = [0]
    (ext,) = [e for e in ws.protocol.extensions if isinstance(e, PerMessageDeflate)]
    decode = ext.decode

    def counting(frame, *, max_size=None):
        if frame.opcode in DATA and frame.rsv1:
            seen[0] += 1
        return decode(frame, max_size=max_size)

    ext.decode = counting
    return seen


def telemetry(n):
    return json.dumps([{"id": i, "temp": 20 + (i * 7) % 13 / 10, "ok": i % 3 != 0} for i in range(n)])


def echo_scenario(ws):
    for msg in [telemetry(200), telemetry(2), "", "é" * 1000, os.urandom(3000), b"\x00" * 100_000]:
        ws.send(msg)
        assert ws.recv(timeout=10) == msg
    ws.send(["frag", "men", "té", telemetry(50)])
    assert ws.recv(timeout=10) == "fragmenté" + telemetry(50)
    big = os.urandom(4 << 20)
    ws.send(big)
    assert ws.recv(timeout=20) == big


def test_python_client_defaults_against_sansws_server(sansws_server):
    port, lines = sansws_server
    with connect(f"ws://127.0.0.1:{port}/", max_size=8 << 20, open_timeout=5, close_timeout=5) as ws:
        agreed = ws.response.headers["Sec-WebSocket-Extensions"]
        assert agreed.startswith("permessage-deflate"), agreed
        compressed = count_compressed(ws)
        echo_scenario(ws)
        ws.close()
    # Our server compressed what it echoed.
    assert compressed[0] >= 8, compressed
    wait_for_line(lines, "deflate Some(DeflateParams")


def test_python_client_small_windows_no_takeover_against_sansws_server(sansws_server):
    port, lines = sansws_server
    factory = ClientPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=10,
        client_max_window_bits=9,
    )
    with connect(f"ws://127.0.0.1:{port}/", extensions=[factory], compression=None,
                 max_size=8 << 20, open_timeout=5, close_timeout=5) as ws:
        agreed = ws.response.headers["Sec-WebSocket-Extensions"]
        for p in ["server_no_context_takeover", "client_no_context_takeover",
                  "server_max_window_bits=10", "client_max_window_bits=9"]:
            assert p in agreed, agreed
        compressed = count_compressed(ws)
        echo_scenario(ws)
        ws.close()
    assert compressed[0] >= 8, compressed
    wait_for_line(lines, "server_no_context_takeover: true, client_no_context_takeover: true, "
                         "server_max_window_bits: 10, client_max_window_bits: 9")


def run_sansws_client(**serve_kwargs):
    """Our interop client against a websockets echo server; returns our
    client's output and the count of compressed frames the server got."""
    compressed = []
    agreed = []

    def handler(ws):
        agreed.append(ws.response.headers.get("Sec-WebSocket-Extensions"))
        seen = count_compressed(ws)
        try:
            for msg in ws:
                if msg == "please close":
                    ws.close(4003, "python says bye")
                    return
                ws.send(msg)
        finally:
            compressed.append(seen[0])

    port = free_port()
    with serve(handler, "127.0.0.1", port, subprotocols=["echo.v1"], max_size=8 << 20,
               **serve_kwargs) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        run = subprocess.run([str(PEER), "client", f"ws://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=60)
        server.shutdown()
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "text, binary, fragmented, 4 MiB, ping/pong: ok" in run.stdout
    return run.stdout, agreed, compressed


def test_sansws_client_against_python_server_defaults():
    out, agreed, compressed = run_sansws_client()
    # websockets' server defaults: 12-bit windows both ways.
    assert agreed[0] == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", agreed
    assert "server_max_window_bits: 12, client_max_window_bits: 12" in out
    # Our client compressed what it sent (with a 12-bit window).
    assert compressed[0] >= 4, compressed


def test_sansws_client_against_python_server_no_takeover_small_windows():
    factory = ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=9,
        client_max_window_bits=9,
    )
    out, agreed, compressed = run_sansws_client(extensions=[factory], compression=None)
    assert "server_no_context_takeover" in agreed[0] and "client_max_window_bits=9" in agreed[0], agreed
    assert ("server_no_context_takeover: true, client_no_context_takeover: true, "
            "server_max_window_bits: 9, client_max_window_bits: 9") in out
    assert compressed[0] >= 4, compressed
