"""Oblivious shuffle: a permutation of each row with its original positions, uniform, its messages uniform,
its randomness cryptographic, and its cost as stated."""

import numpy as np
import torch
from scipy import stats

from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.protocols.inputs import share_input
from privformers.mpc.protocols.open import open_
from privformers.mpc.protocols.shuffle import shuffle
from privformers.mpc.session import run_local
from privformers.mpc.transport import local as local_transport


def _shuffled(x: torch.Tensor):
    """(opened shuffled values, opened original positions, the run) for client-held x (rows, n)."""

    def run(party: Party, _):
        s, idx = shuffle(share_input(party, CLIENT, x, tuple(x.shape)))
        return open_(s), open_(idx)

    out = run_local(run)
    vals, idx = out.results[CLIENT]
    return vals, idx, out


def test_shuffle_permutes_each_row_and_carries_positions():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 40, generator=g, dtype=torch.float64)
    vals, idx, _ = _shuffled(x)
    assert torch.equal(idx.sort(1).values, torch.arange(40).expand(5, 40))   # a permutation per row
    assert torch.equal(vals, torch.round(x * 2**16).long().gather(1, idx))    # values follow their positions
    assert not torch.equal(idx[0], idx[1])                                     # rows independent


def test_shuffle_is_uniform():
    """Where element 0 lands, over 3,000 rows of 12: uniform (and the check rejects a biased placement)."""
    x = torch.zeros(3000, 12, dtype=torch.float64)
    _, idx, _ = _shuffled(x)
    landed = (idx == 0).nonzero()[:, 1].numpy()
    assert stats.chisquare(np.bincount(landed, minlength=12)).pvalue > 1e-3
    biased = np.minimum(landed, 10)
    assert stats.chisquare(np.bincount(biased, minlength=12)).pvalue < 1e-6


def test_shuffle_cost():
    x = torch.zeros(3, 100, dtype=torch.float64)

    def run(party: Party, _):
        a = share_input(party, CLIENT, x, tuple(x.shape))
        before = party.meter.snapshot()
        shuffle(a)
        after = party.meter.snapshot()
        key = f"{party.mode}/other"
        return (after["rounds"].get(key, 0) - before["rounds"].get(key, 0),
                after["bytes"].get(key, 0) - before["bytes"].get(key, 0))

    out = run_local(run)
    for role in (CLIENT, SERVER):
        assert out.results[role] == (2, 8 * 300)     # 2 rounds, 8 bytes per element from each party


def test_shuffle_messages_uniform_and_not_from_torch_rng(monkeypatch):
    """The server's pass-1 message to the client (x_s - a) for a secret of zeros vs of 1000s: the same
    distribution (two-sample test); and with torch's generator reseeded, different permutations."""
    got: dict[str, list[int]] = {"a": [], "b": []}
    original = local_transport.LocalChannel.recv

    def runs(value: float, key: str) -> None:
        def recv(self, _orig=original):
            msg = _orig(self)
            if (isinstance(msg, torch.Tensor) and msg.dtype == torch.int64 and msg.numel() == 400
                    and self.peer == SERVER and not got[key]):   # the first: pass 1 (then come the openings)
                got[key].extend(((msg.reshape(-1) >> 20) & 0xFFFF).tolist())
            return msg

        monkeypatch.setattr(local_transport.LocalChannel, "recv", recv)
        _shuffled(torch.full((4, 100), value, dtype=torch.float64))
        monkeypatch.setattr(local_transport.LocalChannel, "recv", original)

    runs(0.0, "a")
    runs(1000.0, "b")
    assert len(got["a"]) == len(got["b"]) == 400
    assert stats.ks_2samp(got["a"], got["b"]).pvalue > 1e-3
    # the same test rejects a message that leaks: the encodings themselves, with a little noise
    rng = np.random.default_rng(0)
    leak = lambda v: ((int(v * 2**16) + rng.integers(0, 2**18, 400)) >> 20) & 0xFFFF  # noqa: E731
    assert stats.ks_2samp(leak(0.0), leak(1000.0)).pvalue < 1e-6
    perms = []
    for _ in range(2):
        torch.manual_seed(0)
        perms.append(_shuffled(torch.zeros(2, 50, dtype=torch.float64))[1])
    assert not torch.equal(perms[0], perms[1])
