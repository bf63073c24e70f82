"""Helpers for secure-runtime tests: a plaintext reference and the MPC result of the same model."""

from __future__ import annotations

from collections.abc import Callable

import torch

from privformers.secure import secure_forward


def compare(factory: Callable[[], torch.nn.Module], output: str = "logits", **inputs: torch.Tensor) -> float:
    """Max abs error of the secure forward pass against plaintext, for a seeded random model."""
    torch.manual_seed(0)
    model = factory().eval()
    with torch.no_grad():
        ref = model(**inputs)[output].double()
    torch.manual_seed(1)  # the client's and dealer's placeholders differ from the server's weights
    got = secure_forward(factory, model.state_dict(), output=output, **inputs)
    assert got.shape == ref.shape
    return float((got - ref).abs().max())
