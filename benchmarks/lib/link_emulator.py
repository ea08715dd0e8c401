#!/usr/bin/env python3
"""A network link between two TUN devices, emulated in user space: the stand-in for `tc netem`
where the kernel has no netem (CONFIG_NET_SCH_NETEM unset), used by benchmarks/lib/netns.sh.

    link_emulator.py --tun NAME_A --tun NAME_B --profile FILE

Creates the two TUN devices (IFF_TUN, no packet information) in the current network namespace
and prints `{"event": "ready"}`; the caller then moves each device into its namespace and
addresses it. Every IP packet read from one device is written to the other after the link's
treatment, per direction, in the order netem applies it:

  loss   dropped with probability `loss` (Bernoulli, like `netem loss P%`);
  limit  dropped when `limit` packets already wait for the wire (drop-tail, like `netem limit`);
  rate   serialised at `rate_bit_s` (the wire is busy len*8/rate seconds per packet);
  delay  delivered `delay_ms` after it left the wire (one way; RTT = 2 * delay_ms).

FILE holds {"rate_bit_s": R, "delay_ms": D, "loss": P, "limit": N} (rate 0 = unlimited) and is
read again whenever its modification time changes, so a running link switches profiles
(replace it with a rename). On SIGTERM/SIGINT it prints per-direction counters as one JSON line
and exits 0. Python's scheduling adds a few tens of microseconds per packet: fine for RTTs of
milliseconds, visible against a 0.2 ms datacenter RTT (the caller measures the RTT it got).
"""
import argparse
import collections
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Direction:
    """One way of the link: the wire's busy time and its counters."""

    def __init__(self, name):
        self.name = name
        self.wire_free_at = 0.0
        self.departures = collections.deque()  # when each packet still waiting leaves the wire
        self.counts = {"packets": 0, "bytes": 0, "delivered": 0, "lost": 0, "queue_drops": 0}

    def admit(self, size, now, profile, rng):
        """Arrival time of a packet of `size` bytes offered at `now`, or None when dropped."""
        self.counts["packets"] += 1
        self.counts["bytes"] += size
        if profile["loss"] > 0 and rng.random() < profile["loss"]:
            self.counts["lost"] += 1
            return None
        while self.departures and self.departures[0] <= now:
            self.departures.popleft()
        if len(self.departures) >= profile["limit"]:
            self.counts["queue_drops"] += 1
            return None
        start = max(now, self.wire_free_at)
        rate = profile["rate_bit_s"]
        self.wire_free_at = start + (size * 8.0 / rate if rate > 0 else 0.0)
        self.departures.append(self.wire_free_at)
        return self.wire_free_at + profile["delay_ms"] / 1000.0


def read_profile(path):
    with open(path) as f:
        p = json.load(f)
    return {"rate_bit_s": float(p.get("rate_bit_s", 0)), "delay_ms": float(p.get("delay_ms", 0)),
            "loss": float(p.get("loss", 0)), "limit": int(p.get("limit", 1000))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tun", action="append", required=True, help="device name (give two)")
    parser.add_argument("--profile", required=True, help="JSON file with the link's parameters")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if len(args.tun) != 2:
        parser.error("give --tun twice")
    rng = random.Random(args.seed)
    fds = [open_tun(name) for name in args.tun]
    ways = {fds[0]: (Direction(f"{args.tun[0]}->{args.tun[1]}"), fds[1]),
            fds[1]: (Direction(f"{args.tun[1]}->{args.tun[0]}"), fds[0])}
    profile_mtime = os.stat(args.profile).st_mtime_ns
    profile = read_profile(args.profile)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    print(json.dumps({"event": "ready", "tun": args.tun}), flush=True)

    pending = []  # heap of (arrival time, sequence, destination fd, packet)
    sequence = 0
    while not stopping:
        now = time.monotonic()
        timeout_s = 0.1
        if pending:
            timeout_s = min(timeout_s, max(0.0, pending[0][0] - now))
        # select() takes microseconds (poll() would round a 0.1 ms delay up to 1 ms).
        readable, _, _ = select.select(fds, [], [], timeout_s)
        for fd in readable:
            direction, destination = ways[fd]
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:  # EBADFD: the device was removed with its namespace (teardown)
                    stopping.append(1)
                    break
                arrival = direction.admit(len(packet), time.monotonic(), profile, rng)
                if arrival is not None:
                    sequence += 1
                    heapq.heappush(pending, (arrival, sequence, destination, packet))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, destination, packet = heapq.heappop(pending)
            try:
                os.write(destination, packet)
                ways[fds[0] if destination == fds[1] else fds[1]][0].counts["delivered"] += 1
            except OSError:
                pass  # the device went down (teardown): the packet is lost, like on a cut link
        try:
            mtime = os.stat(args.profile).st_mtime_ns
            if mtime != profile_mtime:
                profile_mtime, profile = mtime, read_profile(args.profile)
        except (OSError, ValueError):
            pass  # mid-replace or removed: keep the current profile
    print(json.dumps({"event": "stopped", "directions": {d.name: d.counts for d, _ in ways.values()}}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
