"""A Python `websockets` server for tests/interop/test_managed_client.py.

    python3 stream_server.py PORT MODE

MODE `stream`: sends binary messages of 20-200 KB back to back, each
`sum:<16 hex digits>:<body>` with the FNV-1a hash of the body, and echoes
what it receives. MODE `echo`: only echoes. MODE `forbid`: answers every
upgrade with 403. Prints `listening` once it accepts connections.
"""

import random
import sys
import threading

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def sum_message(n: int) -> bytes:
    rng = random.Random(n)
    size = rng.randrange(20_000, 200_000)
    body = bytes(rng.getrandbits(8) for _ in range(256)) * (size // 256)
    return b"sum:%016x:" % fnv1a(body) + body


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    # A few distinct messages, made once (hashing in Python is slow).
    messages = [sum_message(n) for n in range(4)]

    def echo(ws):
        try:
            for m in ws:
                ws.send(m)
        except ConnectionClosed:
            pass

    def handler(ws):
        if mode == "echo":
            echo(ws)
            return
        threading.Thread(target=echo, args=(ws,), daemon=True).start()
        n = 0
        try:
            while True:
                ws.send(messages[n % len(messages)])
                n += 1
        except ConnectionClosed:
            pass

    def process_request(connection, request):
        if mode == "forbid":
            return connection.respond(403, "Forbidden\n")
        return None

    with serve(handler, "127.0.0.1", port, process_request=process_request, max_size=None) as server:
        print("listening", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
