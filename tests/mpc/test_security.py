"""Security properties of the engine, tested.

1. No secret input crosses the wire in the clear: every byte each party sends is captured while
   computing on random secrets, and no fixed-point encoding of any secret appears in it.
2. A party's view is independent of the other party's secret: what the server receives for
   secret A and for secret B is indistinguishable by a two-sample test (which does reject a
   deliberately leaky view).
3. Shares do not come from torch's global generator.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from privformers.mpc.functions import gelu, softmax
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.protocols.beaver import mul
from privformers.mpc.protocols.inputs import reveal_to, share_input
from privformers.mpc.protocols.select import argmax
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.protocols.weights import ServerWeight
from privformers.mpc.session import Program, run_local
from privformers.mpc.transport import local as local_transport


class _Recorder:
    """Captures the payload bytes every link sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bool]] = []  # (sender->receiver, bytes, online?)


def _recording_run(program: Program, monkeypatch) -> _Recorder:
    rec = _Recorder()
    original = local_transport.LocalChannel.send

    def send(self, msg):
        data = msg.contiguous().numpy().tobytes() if isinstance(msg, torch.Tensor) else bytes(msg)
        rec.sent.append((self.peer, data, True))
        return original(self, msg)

    monkeypatch.setattr(local_transport.LocalChannel, "send", send)
    run_local(program)
    return rec


def _pipeline(x: torch.Tensor, w: torch.Tensor) -> Program:
    def setup(party: Party):
        return ServerWeight(party, w if party.role == SERVER else None, tuple(w.shape))

    def run(party: Party, W):
        a = share_input(party, CLIENT, x, tuple(x.shape))
        h = trunc(W.product(a))
        h = gelu(h)
        h = mul(h, h)
        p = softmax(h, -1)
        onehot = argmax(p, -1)
        return reveal_to(onehot, CLIENT)

    return Program(run=run, setup=setup)


def test_no_secret_encoding_on_the_wire(monkeypatch):
    g = torch.Generator().manual_seed(7)
    sign = lambda t: torch.where(torch.rand(t.shape, generator=g) < 0.5, -t, t)
    x = sign(1 + 3 * torch.rand(2, 16, generator=g, dtype=torch.float64))
    w = sign(0.5 + 0.5 * torch.rand(16, 8, generator=g, dtype=torch.float64))
    rec = _recording_run(_pipeline(x, w), monkeypatch)
    words: set[int] = set()
    total = 0
    for _, data, _ in rec.sent:
        if len(data) % 8 == 0:
            vals = np.frombuffer(data, dtype=np.int64)
            words.update(vals.tolist())
            total += len(vals)
    assert total > 10_000
    secrets = torch.cat([torch.round(x.reshape(-1) * 2**16), torch.round(w.reshape(-1) * 2**16)]).long()
    for v in secrets.tolist():
        assert abs(v) >= 2**15  # high-entropy values, so a chance match is negligible
        assert v not in words, f"encoding of a secret value {v} found on the wire"


def test_wire_check_catches_a_leak(monkeypatch):
    """The detector above is not vacuous: a program that sends its input in the clear is caught."""
    x = torch.full((4,), 2.5, dtype=torch.float64)

    def run(party: Party, _):
        if party.role == CLIENT and party.mode == "online":
            party.send(SERVER, party.fp.encode(x))
        if party.role == SERVER and party.mode == "online":
            party.recv(CLIENT)
        return None

    rec = _recording_run(Program(run=run), monkeypatch)
    words = {v for _, d, _ in rec.sent if len(d) % 8 == 0 for v in np.frombuffer(d, dtype=np.int64).tolist()}
    assert int(round(2.5 * 2**16)) in words


def _server_view(secret: float, runs: int) -> np.ndarray:
    """Low 16 bits of the first values the server receives from the client, over many runs."""
    views = []
    x = torch.full((4,), secret, dtype=torch.float64)
    for _ in range(runs):
        got: list[int] = []

        def run(party: Party, _):
            a = share_input(party, CLIENT, x, (4,))
            out = mul(a, a)
            return reveal_to(out, CLIENT)

        original = local_transport.LocalChannel.recv

        def recv(self, _orig=original, _got=got):
            msg = _orig(self)
            if (isinstance(msg, torch.Tensor) and self.peer == CLIENT and msg.dtype == torch.int64
                    and msg.numel() >= 4 and not _got):   # skips the 1-word ready message (zeros)
                if threading_current_role() == SERVER:
                    _got.extend(msg.reshape(-1)[:4].tolist())
            return msg

        local_transport.LocalChannel.recv = recv
        try:
            run_local(run)
        finally:
            local_transport.LocalChannel.recv = original
        views.extend(got)
    return (np.array(views, dtype=np.int64) >> 8) & 0xFFFF


def threading_current_role() -> str:
    import threading

    return threading.current_thread().name.removeprefix("party-")


def test_server_view_is_independent_of_client_secret():
    a = _server_view(1.3, 60)
    b = _server_view(-5.7, 60)
    assert len(a) >= 200 and len(b) >= 200
    p = stats.ks_2samp(a, b).pvalue
    assert p > 1e-3, p
    # the same test rejects a leaky view: low bits of the encoding itself plus small noise
    rng = np.random.default_rng(0)
    leak_a = ((np.int64(round(1.3 * 2**16)) + rng.integers(0, 2**12, len(a))) >> 8) & 0xFFFF
    leak_b = ((np.int64(round(-5.7 * 2**16)) + rng.integers(0, 2**12, len(b))) >> 8) & 0xFFFF
    assert stats.ks_2samp(leak_a, leak_b).pvalue < 1e-6


def test_shares_do_not_use_torch_global_rng():
    x = torch.ones(8, dtype=torch.float64)
    shares = []
    for _ in range(2):
        torch.manual_seed(0)

        def run(party: Party, _):
            s = share_input(party, CLIENT, x, (8,))
            return s.data.clone()

        shares.append(run_local(run).results["server"])
    assert not torch.equal(shares[0], shares[1])
