"""What a peer can make a link hold: announced sizes over the link's limit are refused before any
allocation, a payload's buffer follows the bytes that actually arrived, and a failed message's buffer
is freed at once, although the link keeps its error (issue 29, item 2)."""

from __future__ import annotations

import gc
import os
import struct
import threading
import time

import pytest
import torch

from privformers.mpc.transport.base import PeerDisconnected, SessionAborted, TransportError
from privformers.mpc.transport.frame import HEADER, KIND_ABORT, KIND_BYTES, KIND_TENSOR, MAGIC, VERSION, encode_header
from privformers.mpc.transport.tcp import TcpChannel
from tests.mpc.test_tcp import raw_pair

MiB = 1 << 20


def rss() -> int:
    """This process's resident memory in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def read_abort(raw, sid: bytes) -> str:
    """The reason in the abort frame the link sent us."""
    raw.settimeout(5)
    head = b""
    while len(head) < HEADER.size:
        head += raw.recv(HEADER.size - len(head))
    magic, version, got_sid, _, kind, _, _, n = HEADER.unpack(head)
    assert (magic, version, got_sid, kind) == (MAGIC, VERSION, sid, KIND_ABORT)
    data = b""
    while len(data) < n:
        data += raw.recv(n - len(data))
    return data.decode()


def test_an_announced_size_over_the_links_limit_is_refused_before_allocating():
    sid = os.urandom(16)
    raw, other = raw_pair()
    link = TcpChannel(other, "client", sid, 10.0, "127.0.0.1:9", max_message=MiB)
    raw.sendall(encode_header(sid, 0, KIND_BYTES, 0, (), 100 * MiB))
    before = rss()
    with pytest.raises(TransportError, match=r"client at 127.0.0.1:9 announced a 104857600-byte message, over "
                                             r"this link's 1048576-byte limit: refused"):
        link.recv()
    assert rss() - before < 16 * MiB
    assert "refused a frame: client at 127.0.0.1:9 announced a 104857600-byte message" in read_abort(raw, sid)
    raw.close()
    link.close()

    # a tensor: the limit is checked on the announced length, whatever the shape says
    raw, other = raw_pair()
    link = TcpChannel(other, "server", sid, 10.0, max_message=MiB)
    shape = (1 << 20, 1 << 20)
    raw.sendall(HEADER.pack(MAGIC, VERSION, sid, 0, KIND_TENSOR, 1, 2, 8 << 40) + struct.pack("!2q", *shape))
    with pytest.raises(TransportError, match=r"announced a 8796093022208-byte message, over this link's "
                                             r"1048576-byte limit"):
        link.recv()
    raw.close()
    link.close()


def test_the_limit_can_change_between_messages():
    sid = os.urandom(16)
    a, b = raw_pair()
    sender, link = TcpChannel(a, "server", sid, 10.0), TcpChannel(b, "client", sid, 10.0, max_message=64)
    sender.send(b"x" * 64)
    assert link.recv() == b"x" * 64
    link.max_message = 1 << 16
    sender.send(torch.ones(1000, dtype=torch.int64))
    assert torch.equal(link.recv(), torch.ones(1000, dtype=torch.int64))
    link.max_message = 0
    sender.send(b"")
    assert link.recv() == b""
    sender.send(b"!")
    with pytest.raises(TransportError, match="announced a 1-byte message, over this link's 0-byte limit"):
        link.recv()
    with pytest.raises(SessionAborted, match="refused a frame"):
        sender.recv()
    sender.close()
    link.close()


def test_a_large_message_grows_with_what_arrives_and_is_freed_when_cut():
    """A peer announces 512 MiB and sends 64 MiB: we hold about what it sent, not what it claimed;
    when it then disconnects, the partial buffer is freed although the link keeps its error (gc off,
    so a reference cycle would keep it)."""
    sid = os.urandom(16)
    raw, other = raw_pair()
    link = TcpChannel(other, "client", sid, 30.0)
    sent = encode_header(sid, 0, KIND_BYTES, 0, (), 512 * MiB) + os.urandom(64 * MiB)
    gc.collect()
    gc.disable()
    try:
        before = rss()
        box: dict = {}
        reader = threading.Thread(target=lambda: box.setdefault("err", _catch(link.recv)), daemon=True)
        reader.start()
        raw.sendall(sent)
        time.sleep(1.0)                        # the reader takes in what was sent and waits for more
        held = rss() - before
        raw.close()                            # the peer is gone, mid-message
        reader.join(10)
        err = box["err"]
        assert isinstance(err, PeerDisconnected) and "truncated" in str(err), err
        after = rss() - before
        print(f"RSS over the start: {held / MiB:.0f} MiB while 64 of 512 MiB had arrived, {after / MiB:.0f} MiB "
              "after the cut")
        assert held < 112 * MiB, f"{held / MiB:.0f} MiB held for 64 MiB received"
        assert after < 24 * MiB, f"{after / MiB:.0f} MiB still held after the message failed"
        with pytest.raises(PeerDisconnected):    # the link remembers why it ended
            link.recv()
    finally:
        gc.enable()
        link.close()


def test_a_large_message_arrives_whole_across_growth_steps():
    sid = os.urandom(16)
    a, b = raw_pair()
    sender, link = TcpChannel(a, "server", sid, 30.0), TcpChannel(b, "client", sid, 30.0)
    for n in (1 << 20, (1 << 20) + 8, 3 * (1 << 20) + 24, 9_999_992):
        t = torch.randint(-2**62, 2**62, (n // 8,))
        sender.send(t)
        assert torch.equal(link.recv(), t)
    sender.send(b"y" * (5 * MiB + 3))
    assert link.recv() == b"y" * (5 * MiB + 3)
    sender.close()
    link.close()


def _catch(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return exc
    return None


def test_connect_party_and_the_command_line_set_the_limit():
    from privformers.cli import build_parser
    from privformers.cli.options import max_message_from
    from privformers.mpc.launch import free_ports
    from privformers.mpc.transport.connect import connect_party
    from privformers.mpc.transport.options import DEFAULT_MAX_MESSAGE_MB
    from privformers.mpc.transport.tcp import MAX_MESSAGE
    from tests.mpc.test_tcp import addrs_of, run_threads

    assert DEFAULT_MAX_MESSAGE_MB * MiB == MAX_MESSAGE
    parser = build_parser()
    for argv in (["dealer", "--listen", "127.0.0.1:1"], ["serve", "--model", "m", "--listen", "127.0.0.1:1",
                                                          "--dealer", "127.0.0.1:2"],
                 ["party", "--role", "dealer", "--program", "echo", "--session", "00" * 16, "--client", "h:1",
                  "--server", "h:2", "--dealer", "h:3"]):
        assert max_message_from(parser.parse_args(argv)) == MAX_MESSAGE
        assert max_message_from(parser.parse_args([*argv, "--max-message-mb", "0.5"])) == MiB // 2
        with pytest.raises(SystemExit):   # refused while parsing: exit 2 with one line
            parser.parse_args([*argv, "--max-message-mb", "0"])

    sid, addrs = os.urandom(16), addrs_of(free_ports(3))
    links = dict(zip(("client", "server", "dealer"), run_threads(
        *(lambda r=r: connect_party(r, sid, addrs, 10, 10, tls=None, max_message=64) for r in ("client", "server",
                                                                                                  "dealer")))))
    links["dealer"]["client"].send(b"x" * 64)
    assert links["client"]["dealer"].recv() == b"x" * 64
    links["dealer"]["server"].send(b"x" * 65)
    with pytest.raises(TransportError, match="announced a 65-byte message, over this link's 64-byte limit"):
        links["server"]["dealer"].recv()
    for mine in links.values():
        for link in mine.values():
            link.close(flush_timeout=1)
