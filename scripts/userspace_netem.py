#!/usr/bin/env python3
"""A switch in user space that holds every frame for a fixed delay: netem's delay where the kernel has none.

Run inside a network namespace that holds the switch ports (one veth end per host). Each port has
a raw packet socket; a frame read from one port is sent, ``delay`` later, to the port that owns its
destination MAC (learned from source MACs), or to every other port when that is not yet known.
TCP, ACKs included, sees the delay on every frame, as behind ``tc netem delay``. Rate limits stay
in the kernel (``tbf`` on the interfaces).

The kernel must hand whole frames to user space: ``prepare_port`` turns off the segmentation and
checksum offloads of a veth pair (SIOCETHTOOL), so frames are at most the MTU and carry real
checksums; a large MTU keeps the frame rate low enough for Python at 1 Gbit/s.

    ip netns exec LAN python scripts/userspace_netem.py --delay-ms 0.5 pfc1 pfs1 pfd1
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import heapq
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SIOCETHTOOL = 0x8946
# legacy ethtool "set" commands for one offload each: tx checksum, scatter-gather, TSO, GSO, GRO
OFFLOADS_OFF = {"tx-checksum": 0x17, "scatter-gather": 0x19, "tso": 0x1F, "gso": 0x24, "gro": 0x2C}
BROADCAST = b"\xff" * 6


def set_offloads_off(ifname: str) -> None:
    """Turn off one interface's offloads (run in the interface's namespace); OSError if the kernel refuses."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for cmd in OFFLOADS_OFF.values():
            value = ctypes.create_string_buffer(struct.pack("II", cmd, 0), 8)     # struct ethtool_value
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, struct.pack("16sP", ifname.encode(), ctypes.addressof(value)))


class DelaySwitch:
    """Frames in on any port, out on the destination's port ``delay`` seconds later, in arrival order."""

    def __init__(self, ports: list[str], delay: float) -> None:
        if delay < 0:
            raise ValueError(f"delay must be >= 0, got {delay}")
        self.delay = delay
        self.socks: dict[str, socket.socket] = {}
        for name in ports:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
            s.bind((name, 0))
            s.setblocking(False)
            self.socks[name] = s
        self.by_fd = {s.fileno(): name for name, s in self.socks.items()}
        self.mac_port: dict[bytes, str] = {}
        self.pending: list[tuple[float, int, str, bytes]] = []
        self.seq = 0
        self.frames = 0

    def _receive(self, name: str, now: float) -> None:
        s = self.socks[name]
        while True:
            try:
                frame, addr = s.recvfrom(1 << 17)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING or len(frame) < 14:
                continue                                   # our own sends show up on the socket too
            self.mac_port[frame[6:12]] = name
            out = self.mac_port.get(frame[0:6]) if frame[0:6] != BROADCAST else None
            targets = [out] if out and out != name else [p for p in self.socks if p != name]
            for target in targets:
                heapq.heappush(self.pending, (now + self.delay, self.seq, target, frame))
                self.seq += 1

    def _release(self, now: float) -> None:
        while self.pending and self.pending[0][0] <= now:
            _, _, target, frame = heapq.heappop(self.pending)
            try:
                self.socks[target].send(frame)
                self.frames += 1
            except (BlockingIOError, OSError):
                pass                                       # a full queue drops the frame, as a link would

    def run(self, stop_after: float | None = None) -> None:
        """Forward until interrupted (or for stop_after seconds)."""
        end = None if stop_after is None else time.monotonic() + stop_after
        fds = list(self.socks.values())
        while end is None or time.monotonic() < end:
            now = time.monotonic()
            self._release(now)
            timeout = max(0.0, self.pending[0][0] - now) if self.pending else 0.5
            ready, _, _ = select.select(fds, [], [], timeout)
            now = time.monotonic()
            for s in ready:
                self._receive(self.by_fd[s.fileno()], now)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ports", nargs="+", help="interfaces of this namespace to switch between")
    p.add_argument("--delay-ms", type=float, help="one-way delay added to every frame")
    p.add_argument("--offloads-off", action="store_true", help="only turn off the ports' offloads, then exit")
    args = p.parse_args(argv)
    if args.offloads_off:
        for port in args.ports:
            set_offloads_off(port)
        return 0
    if args.delay_ms is None:
        p.error("--delay-ms is required to switch")
    switch = DelaySwitch(args.ports, args.delay_ms / 1000)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"switching {', '.join(args.ports)} with {args.delay_ms} ms delay", flush=True)
    try:
        switch.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
