"""Held rows: products with a growing secret tensor open each row once, and stay exact."""

from __future__ import annotations

import torch

from privformers.mpc.party import CLIENT, SERVER
from privformers.mpc.protocols.beaver import matmul
from privformers.mpc.protocols.held import HeldRows, HeldView, matmul_held
from privformers.mpc.protocols.inputs import reveal_to, share_input
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.session import Program, run_local

G = torch.Generator().manual_seed(3)
STEPS = [torch.randn(1, 2, n, 4, generator=G, dtype=torch.float64) for n in (5, 1, 1)]   # (batch, heads, rows, d)
QUERIES = [torch.randn(1, 2, 1, 4, generator=G, dtype=torch.float64) for _ in STEPS]


def _run(held: bool) -> tuple[list[torch.Tensor], dict]:
    """Each step appends rows to Y and computes q @ Y^T (scores) and softmax-free weights @ Y (values)."""
    def run(party, _):
        out, rows, base = [], None, HeldRows(party, dim=2)
        for new, q in zip(STEPS, QUERIES):
            y = share_input(party, SERVER, new if party.role == SERVER else None, tuple(new.shape))
            x = share_input(party, CLIENT, q if party.role == CLIENT else None, tuple(q.shape))
            rows = y if rows is None else type(y)(party, torch.cat([rows.data, y.data], 2))
            if held:
                base.append(y)
                view = HeldView(base).then(torch.Tensor.transpose, (-1, -2), {})
                z = trunc(matmul_held(x, view))
            else:
                z = trunc(matmul(x, rows.transpose(-1, -2), truncate=False))
            out.append(reveal_to(z, CLIENT))
        return out

    result = run_local(Program(run=run))
    return result.results[CLIENT], result.meters[CLIENT].summary()


def test_products_with_held_rows_equal_plaintext_and_fresh_triples() -> None:
    held, _ = _run(held=True)
    fresh, _ = _run(held=False)
    rows = None
    for step, (new, q) in enumerate(zip(STEPS, QUERIES)):
        rows = new if rows is None else torch.cat([rows, new], 2)
        reference = q @ rows.transpose(-1, -2)
        assert (held[step] - reference).abs().max() < 1e-3
        assert (held[step] - fresh[step]).abs().max() < 1e-3


def test_each_row_is_opened_once() -> None:
    """Online bytes: x (8 elements) and the new rows per step, against the whole Y every step with fresh
    triples (both plus the same truncation and reveal)."""
    _, held = _run(held=True)
    _, fresh = _run(held=False)
    d = 2 * 4   # heads x width: elements per row of Y
    opened_held = 8 * (3 * 8 + d * (5 + 1 + 1))          # bytes the client sends for the products
    opened_fresh = 8 * (3 * 8 + d * (5 + 6 + 7))
    assert fresh["online_bytes"] - held["online_bytes"] == opened_fresh - opened_held
    assert held["online_rounds"] == fresh["online_rounds"]
