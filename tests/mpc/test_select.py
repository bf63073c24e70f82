import torch

from privformers.mpc.protocols.select import argmax, max_, relu
from tests.mpc.helpers import cost_of, run_on_secret


def test_relu_and_max():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 13, generator=g, dtype=torch.float64) * 5
    out, _ = run_on_secret(lambda a: relu(a), x)
    assert (out - x.clamp(min=0)).abs().max() < 1e-4
    out, _ = run_on_secret(lambda a: max_(a, dim=1), x)
    assert (out - x.max(dim=1).values).abs().max() < 1e-4
    out, _ = run_on_secret(lambda a: max_(a, dim=0, keepdim=True), x)
    assert (out - x.max(dim=0, keepdim=True).values).abs().max() < 1e-4


def test_argmax_one_hot_first_maximum():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 37, generator=g, dtype=torch.float64)
    x[1, 5] = x[1, 20] = 10.0  # a tie: the first index wins, as in torch.argmax
    out, _ = run_on_secret(lambda a: argmax(a, dim=-1), x)
    onehot = torch.round(out * (1 << 16)).long()
    expect = torch.nn.functional.one_hot(x.argmax(dim=-1), 37)
    assert torch.equal(onehot, expect)


def test_argmax_over_gpt2_vocabulary_within_targets():
    """Acceptance 5: argmax over 50,257 values <= 29 MB and <= 142 rounds per party."""
    x = torch.randn(1, 50257, dtype=torch.float64) * 4
    cost = cost_of(lambda a: argmax(a, bits=48), x)
    for role in ("client", "server"):
        assert cost[role]["bytes"] <= 29e6 / 10, cost
        assert cost[role]["rounds"] <= 142 // 4, cost
