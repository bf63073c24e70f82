"""An op with no secure implementation fails loudly, naming the op and the running module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from privformers.secure import secure_forward


class Cumulative(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x, dim=1)


class Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(11, 4)
        self.summer = Cumulative()

    def forward(self, input_ids: torch.Tensor) -> dict:
        return {"logits": self.summer(self.emb(input_ids))}


class PeeksAtIds(Toy):
    def forward(self, input_ids: torch.Tensor) -> dict:
        return {"logits": self.emb(input_ids + 1)}


def test_unsupported_op_names_op_and_module() -> None:
    torch.manual_seed(0)
    with pytest.raises(RuntimeError, match=r"torch\.cumsum.*summer \(Cumulative\)"):
        secure_forward(Toy, Toy().state_dict(), input_ids=torch.tensor([[1, 2, 3]]))


def test_computing_on_secret_token_ids_is_refused() -> None:
    with pytest.raises(RuntimeError, match="secret token ids"):
        secure_forward(PeeksAtIds, PeeksAtIds().state_dict(), input_ids=torch.tensor([[1, 2, 3]]))
