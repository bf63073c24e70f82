"""Helpers for secure-runtime tests: a plaintext reference and the MPC result of the same model."""

from __future__ import annotations

from collections.abc import Callable

import torch

from privformers.mpc.session import LocalRun
from privformers.secure.runtime import secure_run


def compare_run(factory: Callable[[], torch.nn.Module], output: str = "logits",
                **inputs: torch.Tensor) -> tuple[float, LocalRun]:
    """Max abs error of the secure forward pass against plaintext, for a seeded random model."""
    torch.manual_seed(0)
    model = factory().eval()
    with torch.no_grad():
        ref = model(**inputs)[output].double()
    torch.manual_seed(1)  # the client's and dealer's placeholders differ from the server's weights
    run = secure_run(factory, model.state_dict(), output=output, **inputs)
    got = run.results["client"]
    assert got.shape == ref.shape
    assert run.results["server"] is None  # only the client learns the result
    return float((got - ref).abs().max()), run


def compare(factory: Callable[[], torch.nn.Module], output: str = "logits", **inputs: torch.Tensor) -> float:
    """Max abs error of the secure forward pass against plaintext (see compare_run)."""
    return compare_run(factory, output, **inputs)[0]
