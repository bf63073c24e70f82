"""Exponential moving average of the trained parameters (``dp-train --ema``).

The average is computed from the released noisy iterates only, so it is post-processing: it costs no
privacy. Evaluation and the saved checkpoint use it; training continues from the last iterate.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class ParameterEMA:
    """``shadow = decay * shadow + (1 - decay) * param`` after every optimizer step."""

    def __init__(self, params: Iterable[nn.Parameter], decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.params = list(params)
        self.decay = float(decay)
        self.shadow = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        """Fold the parameters' current values into the average."""
        for shadow, param in zip(self.shadow, self.params):
            shadow.lerp_(param.detach(), 1.0 - self.decay)

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The averaged values in the parameters for the duration (evaluation, saving), then the iterate back."""
        with torch.no_grad():
            current = [p.detach().clone() for p in self.params]
            for param, shadow in zip(self.params, self.shadow):
                param.copy_(shadow)
        try:
            yield
        finally:
            with torch.no_grad():
                for param, value in zip(self.params, current):
                    param.copy_(value)
