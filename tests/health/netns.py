"""A network device of the tests' own: a network namespace behind a veth pair, whose link a test can take down,
make lossy, or send frames nobody takes on. With CI=true a machine that cannot make the namespace fails the
test instead of skipping.

Loss is made on the wire by the kernel's traffic control at the device's side of the link. These machines' kernel
has no `netem` (nor nftables): the device's egress queue is an HTB whose u32 filter sends the echo replies whose
sequence number is a multiple of 2 or 4 to a class that queues nothing (pfifo, limit 0), so exactly half or a
quarter of the answers are dropped, which a test can assert where netem's random loss could only be bounded."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

IN_CI = os.environ.get("CI", "").lower() == "true"


def _ip(*args: str, netns: str = "") -> None:
    command = ["ip", *(["netns", "exec", netns, "ip"] if netns else []), *args]
    subprocess.run(command, check=True, capture_output=True, timeout=10)


class Device:
    """A host at `address` in its own network namespace, reached over a veth pair."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.netns, self.host_if, self.device_if = f"cc-{tag}", f"cch{tag}", f"ccd{tag}"
        # a worker has one device up at a time (the fixture's), and each pytest-xdist worker its own residue of
        # the subnets, so two workers' devices never share one; random within it, as a killed run may leave one
        worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        octet = worker + workers * secrets.randbelow(256 // workers)
        self.address, self.local = f"10.251.{octet}.2", f"10.251.{octet}.1"

    def start(self) -> None:
        _ip("netns", "add", self.netns)
        _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.device_if)
        _ip("link", "set", self.device_if, "netns", self.netns)
        _ip("addr", "add", f"{self.local}/30", "dev", self.host_if)
        _ip("link", "set", self.host_if, "up")
        _ip("addr", "add", f"{self.address}/30", "dev", self.device_if, netns=self.netns)
        _ip("link", "set", self.device_if, "up", netns=self.netns)

    def lose(self, every: int) -> None:
        """Drop the device's echo replies whose sequence number is a multiple of `every` (2 or 4)."""
        tc = ["ip", "netns", "exec", self.netns, "tc"]
        dev = ["dev", self.device_if]
        subprocess.run([*tc, "qdisc", "del", *dev, "root"], capture_output=True, timeout=10)  # none the first time
        for step in (["qdisc", "add", *dev, "root", "handle", "1:", "htb", "default", "10"],
                     ["class", "add", *dev, "parent", "1:", "classid", "1:10", "htb", "rate", "1gbit"],
                     ["class", "add", *dev, "parent", "1:", "classid", "1:20", "htb", "rate", "1gbit"],
                     ["qdisc", "add", *dev, "parent", "1:20", "handle", "20:", "pfifo", "limit", "0"],
                     ["filter", "add", *dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "protocol", "1", "0xff", "match", "u8", "0", "0xff", "at", "20",
                      "match", "u16", "0", hex(every - 1), "at", "26", "flowid", "1:20"]):
            subprocess.run([*tc, *step], check=True, capture_output=True, timeout=10)

    def send_unclaimed(self, frames: int) -> None:
        """`frames` Ethernet frames of a protocol nobody runs (EtherType 0x88B5, local experimental) from the
        device to the host: the host's kernel discards each (its interface's rx drop counter, ifInDiscards)."""
        script = ("import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
                  f"s.bind(({self.device_if!r}, 0))\n"
                  f"for _ in range({frames}): s.send(b'\\xff' * 6 + b'\\x02' * 6 + b'\\x88\\xb5' + b'x' * 50)\n")
        subprocess.run(["ip", "netns", "exec", self.netns, sys.executable, "-c", script], check=True,
                       capture_output=True, timeout=20)

    def link(self, up: bool) -> None:
        _ip("link", "set", self.device_if, "up" if up else "down", netns=self.netns)

    def stop(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, timeout=10)
