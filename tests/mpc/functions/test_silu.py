"""SiLU: error bound over its domain, an untruncated input at no extra round, pinned rounds and bytes."""

import torch

from privformers.mpc.functions.silu import TAIL_ERROR, silu, silu_raw
from tests.mpc.helpers import cost_of, run_on_secret

ERROR_BOUND = 2e-3


def test_silu_error_bound_over_minus16_to_16_and_far_out():
    x = torch.cat([torch.linspace(-16, 16, 4001, dtype=torch.float64),
                   torch.tensor([11 - 2**-8, -11 - 2**-8, 4 - 2**-10, -(2**-10), 100.0, -3000.0, 30000.0])])
    out, _ = run_on_secret(lambda a: silu(a), x)
    err = (out - torch.nn.functional.silu(x)).abs().max()
    print(f"silu max abs error {err:.2e} (tails {TAIL_ERROR:.1e})")
    assert err <= ERROR_BOUND


def test_silu_of_an_untruncated_product_costs_no_extra_round():
    x = torch.linspace(-14, 14, 1001, dtype=torch.float64) / 1.37
    y = (torch.round(x * 2**16) / 2**16) * (round(1.37 * 2**16) / 2**16)   # the product of the encoded values

    def fn(a):
        raw = a.mul_public(a.party.fp.encode(torch.tensor(1.37, dtype=torch.float64)))   # scale 2f
        return silu(raw, pending=a.party.fp.frac_bits)

    out, _ = run_on_secret(fn, x)
    assert (out - torch.nn.functional.silu(y)).abs().max() <= ERROR_BOUND
    assert cost_of(fn, x[:10])["client"]["rounds"] == cost_of(lambda a: silu(a), x[:10])["client"]["rounds"] == 4


def test_silu_rounds_and_bytes_are_pinned():
    """3 rounds (comparison, powers, coefficient products), untruncated out; per element 4 B comparison
    (8 with a pending input: more bits), 8 B powers, 4 x 16 B products."""
    x = torch.linspace(-5, 5, 10, dtype=torch.float64)
    raw = cost_of(lambda a: silu_raw(a)[0], x)["client"]
    assert (raw["rounds"], raw["bytes"]) == (3, 10 * (4 + 8 + 64))
    pending = cost_of(lambda a: silu_raw(a.lshift(16), pending=16)[0], x)["client"]
    assert (pending["rounds"], pending["bytes"]) == (3, 10 * (8 + 8 + 64))
