#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one 1 KB chat request on each and
reads the answer, then holds them all open, idle, until stdin closes (used by
bench/gateway_bench.sh to read a server's RSS at N open connections).

    open_connections.py PORT N BODY_FILE [KEY]

Prints "open N ok=K" once every connection is open and answered. Standard library only.
"""
import socket
import sys


def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ConnectionError("response without Content-Length")
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the response body")
        rest += chunk
    return status


def main():
    port, n, body_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    key = sys.argv[4] if len(sys.argv) > 4 else "rk-bench-key"
    with open(body_file, "rb") as f:
        body = f.read()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Content-Type: application/json\r\nAuthorization: Bearer " + key.encode() +
           b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    socks, ok = [], 0
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        if read_response(s) == 200:
            ok += 1
        socks.append(s)
    print(f"open {len(socks)} ok={ok}", flush=True)
    sys.stdin.read()
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
