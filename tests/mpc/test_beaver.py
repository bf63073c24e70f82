import torch

from privformers.mpc.protocols.beaver import matmul, mul, square
from tests.mpc.helpers import cost_of, run_on_secret


def test_mul_square_matmul_match_float():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, generator=g, dtype=torch.float64) * 3
    y = torch.randn(4, 5, generator=g, dtype=torch.float64) * 3
    w = torch.randn(5, 7, generator=g, dtype=torch.float64)
    out, run = run_on_secret(lambda a, b: mul(a, b), x, y)
    assert (out - x * y).abs().max() < 1e-3
    out, _ = run_on_secret(lambda a: square(a), x)
    assert (out - x * x).abs().max() < 1e-3
    out, _ = run_on_secret(lambda a, b: matmul(a, b), x, w)
    assert (out - x @ w).abs().max() < 1e-3


def test_broadcast_and_batched_matmul():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 4, 8, generator=g, dtype=torch.float64)
    y = torch.randn(2, 3, 8, 5, generator=g, dtype=torch.float64)
    out, _ = run_on_secret(lambda a, b: matmul(a, b), x, y)
    assert (out - x @ y).abs().max() < 1e-3
    v = torch.randn(1, 8, generator=g, dtype=torch.float64)
    out, _ = run_on_secret(lambda a, b: mul(a, b), x, v)
    assert (out - x * v).abs().max() < 1e-3


def test_mul_costs_one_round_each_plus_truncation():
    x = torch.randn(10, dtype=torch.float64)
    cost = cost_of(lambda a, b: mul(a, b), x, x)
    for role in ("client", "server"):
        assert cost[role]["rounds"] == 2
        assert cost[role]["bytes"] == 10 * (16 + 8)


def test_narrow_matmul_as_one_product_over_twice_the_width():
    """Attention-score shapes (contracted width below both output dims) take the single-product path;
    big enough that the float64 limb products run, with a broadcast right operand too."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 96, 8, generator=g, dtype=torch.float64) * 4
    for y in (torch.randn(2, 3, 8, 80, generator=g, dtype=torch.float64) * 4,
              torch.randn(8, 80, generator=g, dtype=torch.float64) * 4):
        out, _ = run_on_secret(lambda a, b: matmul(a, b), x, y)
        assert (out - x @ y).abs().max() < 1e-3
