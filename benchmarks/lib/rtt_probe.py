#!/usr/bin/env python3
"""The round-trip time a TCP connection gets between two hosts (benchmarks/split_computing.sh).

    rtt_probe.py serve HOST PORT     echo one connection's bytes back, then exit (gives up after 10 s)
    rtt_probe.py probe HOST PORT     print the median of 20 one-byte round trips, in ms
"""
import socket
import statistics
import sys
import time


def serve(host, port):
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(1)
        listener.settimeout(10)
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(4096):
                conn.sendall(data)


def probe(host, port):
    for _ in range(50):  # the server may still be binding
        try:
            conn = socket.create_connection((host, port), timeout=10)
            break
        except ConnectionRefusedError:
            time.sleep(0.1)
    else:
        raise SystemExit(f"rtt_probe: nothing listens on {host}:{port}")
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rtts = []
        for _ in range(20):
            start = time.monotonic()
            conn.sendall(b"x")
            if not conn.recv(1):
                raise SystemExit("rtt_probe: the server closed the connection")
            rtts.append((time.monotonic() - start) * 1000)
    print(f"{statistics.median(rtts):.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("serve", "probe"):
        raise SystemExit(__doc__)
    (serve if sys.argv[1] == "serve" else probe)(sys.argv[2], int(sys.argv[3]))
