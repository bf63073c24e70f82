"""The party watchdog: a peer whose connection drops is noticed without reading; a normal close is not."""

from __future__ import annotations

import os
import threading
import time

import torch

from privformers.mpc.transport.tcp import TcpChannel
from privformers.mpc.watchdog import Watchdog
from tests.mpc.test_tcp import raw_pair, tcp_pair


def test_dropped_peer_is_noticed_with_data_consumed_only() -> None:
    ours, theirs = tcp_pair(os.urandom(16))
    theirs.send(torch.arange(4))
    time.sleep(0.2)
    assert ours.vanished() is None  # alive, data pending
    theirs._stream.sock.close()  # the peer's process dies: no close frame
    time.sleep(0.2)
    assert ours.vanished() is None  # its last message is still unread: not yet conclusive
    assert torch.equal(ours.recv(), torch.arange(4))
    why = ours.vanished()
    assert why is not None and why.startswith("server") and "disconnected" in why


def test_normal_close_is_not_a_lost_peer() -> None:
    ours, theirs = tcp_pair(os.urandom(16))
    theirs.close()  # close frame, then the socket closes
    time.sleep(0.2)
    assert ours.vanished() is None
    ours.close()
    assert ours.vanished() is None  # our own closed link is never reported


def test_watchdog_reports_the_lost_peer_once() -> None:
    a, b = raw_pair()
    sid = os.urandom(16)
    to_dealer = TcpChannel(a, "dealer", sid, where="127.0.0.1:9")
    alive, other_end = tcp_pair(sid)
    lost: list[str] = []
    done = threading.Event()
    dog = Watchdog("client", {"dealer": to_dealer, "server": alive},
                   on_lost=lambda why: (lost.append(why), done.set()), interval=0.05, linger=0.05).start()
    b.close()
    assert done.wait(5), "watchdog did not notice the dropped link"
    dog.stop()
    assert lost == ["client failed: dealer at 127.0.0.1:9 disconnected (connection closed)"]


def test_stopped_watchdog_stays_silent() -> None:
    a, b = raw_pair()
    link = TcpChannel(a, "server", os.urandom(16))
    lost: list[str] = []
    dog = Watchdog("client", {"server": link}, on_lost=lost.append, interval=0.05).start()
    dog.stop()
    b.close()
    time.sleep(0.3)
    assert lost == []
