"""permessage-deflate (RFC 7692) between sansws and Python's `websockets`,
both directions: its defaults, and with window bits and no context
takeover asked for. Each test asserts what was agreed, that compressed
frames (RSV1) actually went both ways, and that every message came back
intact (JSON-like text, binary, fragments, 4 MiB of random bytes).

The device adapter too (examples/device_deflate.rs: embedded-io over TCP,
inflating through a lent ring, sending uncompressed), both directions.

Build the peers first: cargo build --release --features embedded-io
--example interop --example device_deflate
Run: python3 -m pytest -v tests/interop
"""

import json
import os
import pathlib
import queue
import subprocess
import threading

import pytest

from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Opcode
from websockets.sync.client import connect
from websockets.sync.server import serve

from test_websockets_interop import PEER, PEERS, free_port, sansws_server, wait_for_line  # noqa: F401

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


def run_sansws_client(peer, **serve_kwargs):
    """Our interop client against a websockets echo server; returns our
    client's output, the extensions agreed, and the count of compressed
    frames the server got on the connection that ran the scenario."""
    compressed = []
    agreed = []

    def handler(ws):
        agreed.append(ws.response.headers.get("Sec-WebSocket-Extensions"))
        seen = count_compressed(ws)
        for msg in ws:
            if msg == "please close":
                # Counted on the connection that ran the scenario: the
                # client's second connection (closed with 4004, no data)
                # can end first, in its own thread.
                compressed.append(seen[0])
                ws.close(4003, "python says bye")
                return
            ws.send(msg)

    port = free_port()
    with serve(handler, "127.0.0.1", port, subprotocols=["echo.v1"], max_size=8 << 20,
               **serve_kwargs) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        run = subprocess.run([str(PEER.parent / peer), "client", f"ws://127.0.0.1:{port}/"],
                             capture_output=True, text=True, timeout=60)
        server.shutdown()
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "text, binary, fragmented, 4 MiB, ping/pong: ok" in run.stdout
    assert len(compressed) == 1, compressed
    return run.stdout, agreed, compressed


@pytest.mark.parametrize("peer", PEERS)
def test_sansws_client_against_python_server_defaults(peer):
    out, agreed, compressed = run_sansws_client(peer)
    # websockets' server defaults: 12-bit windows both ways.
    assert agreed[0] == "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12", agreed
    assert "server_max_window_bits: 12, client_max_window_bits: 12" in out
    # Our client compressed what it sent (with a 12-bit window).
    assert compressed[0] >= 4, compressed


@pytest.mark.parametrize("peer", PEERS)
def test_sansws_client_against_python_server_no_takeover_small_windows(peer):
    factory = ServerPerMessageDeflateFactory(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=9,
        client_max_window_bits=9,
    )
    out, agreed, compressed = run_sansws_client(peer, extensions=[factory], compression=None)
    assert "server_no_context_takeover" in agreed[0] and "client_max_window_bits=9" in agreed[0], agreed
    assert ("server_no_context_takeover: true, client_no_context_takeover: true, "
            "server_max_window_bits: 9, client_max_window_bits: 9") in out
    assert compressed[0] >= 4, compressed


# The device adapter (embedded-io over TCP, examples/device_deflate.rs):
# it inflates through a ring it lends and sends uncompressed.
DEVICE = PEER.parent / "device_deflate"


def count_sent_compressed(ws):
    """Counts the data frames with RSV1 `ws` sends; returns the counter."""
    sent = [0]
    (ext,) = [e for e in ws.protocol.extensions if isinstance(e, PerMessageDeflate)]
    encode = ext.encode

    def counting(frame):
        out = encode(frame)
        if out.opcode in DATA and out.rsv1:
            sent[0] += 1
        return out

    ext.encode = counting
    return sent


def test_python_client_against_the_device_server_kept_to_its_ring():
    port = free_port()
    proc = subprocess.Popen([str(DEVICE), "server", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l.rstrip()) for l in proc.stdout], daemon=True).start()
    try:
        assert "listening" in lines.get(timeout=10)
        no_takeover = ClientPerMessageDeflateFactory(
            client_no_context_takeover=True, client_max_window_bits=9)
        # Its defaults, then small windows with no context takeover: one
        # inflater lent to both connections in turn.
        for kwargs, want in [({}, "permessage-deflate; client_max_window_bits=10"),
                             ({"extensions": [no_takeover], "compression": None},
                              "permessage-deflate; client_no_context_takeover; client_max_window_bits=9")]:
            with connect(f"ws://127.0.0.1:{port}/", max_size=8 << 20, open_timeout=5,
                         close_timeout=5, **kwargs) as ws:
                agreed = ws.response.headers["Sec-WebSocket-Extensions"]
                assert agreed == want, agreed
                received = count_compressed(ws)
                sent = count_sent_compressed(ws)
                echo_scenario(ws)
                ws.close()
            # Python compressed what it sent; the device's echoes were not.
            assert sent[0] >= 8 and received[0] == 0, (sent, received)
            wait_for_line(lines, "deflate Some(DeflateParams")
            wait_for_line(lines, "echoed Ok(8), end Some(Clean)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_device_client_against_python_server_asks_for_a_9_bit_window():
    msgs = [telemetry(200), telemetry(2), "", "é" * 1000, os.urandom(3000), b"\x00" * 100_000,
            telemetry(20_000)]
    results, agreed = [], []

    def handler(ws):
        agreed.append(ws.response.headers.get("Sec-WebSocket-Extensions"))
        sent = count_sent_compressed(ws)
        received = count_compressed(ws)
        for m in msgs:
            ws.send(m)
            results.append(ws.recv(timeout=10) == m)
        ws.send(["frag", "men", "té", telemetry(50)])
        results.append(ws.recv(timeout=10) == "fragmenté" + telemetry(50))
        ws.close()
        results.append((sent[0], received[0]))

    port = free_port()
    with serve(handler, "127.0.0.1", port, max_size=8 << 20) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        run = subprocess.run([str(DEVICE), "client", f"127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=60)
        server.shutdown()
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    assert agreed[0] == "permessage-deflate; server_max_window_bits=9; client_max_window_bits=12", agreed
    assert "server_max_window_bits: 9" in run.stdout
    assert "echoed 8, end Some(Clean)" in run.stdout, run.stdout
    *echoes, (sent, received) = results
    assert echoes == [True] * 8, echoes
    assert sent >= 8 and received == 0, (sent, received)
