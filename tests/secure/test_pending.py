"""A weight product's truncation waits until its result is read, and folds into probs @ V."""

import torch
from transformers.modeling_outputs import BaseModelOutput

from privformers.secure.runtime import secure_run


class _ProbsTimesValues(torch.nn.Module):
    """softmax(h h^T) @ (h W_v^T + b), with the value projection viewed into heads on the way."""

    def __init__(self, read_values: bool = False) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(20, 8)
        self.value = torch.nn.Linear(8, 8)
        self.read_values = read_values

    def forward(self, input_ids: torch.Tensor) -> BaseModelOutput:
        h = self.emb(input_ids)
        probs = torch.softmax(h @ h.transpose(-1, -2), -1).unsqueeze(1)            # (1, 1, T, T)
        v = self.value(h).view(1, -1, 2, 4).transpose(1, 2)                         # (1, 2, T, 4)
        if self.read_values:
            v = v + 0.0   # any op that reads the values truncates them first
        return BaseModelOutput(last_hidden_state=(probs @ v).transpose(1, 2).reshape(1, -1, 8))


def _run(read_values: bool):
    torch.manual_seed(0)
    net = _ProbsTimesValues(read_values).eval()
    with torch.no_grad():
        net.value.weight.mul_(4)
    ids = torch.tensor([[1, 5, 9, 15, 3, 19]])
    run = secure_run(lambda: _ProbsTimesValues(read_values), net.state_dict(), output="last_hidden_state",
                     input_ids=ids)
    with torch.no_grad():
        ref = net(ids).last_hidden_state
    return float((run.results["client"] - ref).abs().max()), run.meters["client"].summary()


def test_values_reach_the_matmul_untruncated_and_are_truncated_once():
    err_lazy, lazy = _run(False)
    err_read, read = _run(True)
    assert err_lazy < 2e-3 and err_read < 2e-3
    assert lazy["online_rounds"] == read["online_rounds"] - 1   # the value projection's truncation folded in
    # the truncation that does run for a read value is still charged to the linear layer
    assert read["breakdown"]["linear"]["rounds"] == lazy["breakdown"]["linear"]["rounds"] + 1


class _Rotary(torch.nn.Module):
    """A projection rotated by public cos/sin, as Llama's apply_rotary_pos_emb does, then read once."""

    def __init__(self, factor: float = 1.0) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(20, 8)
        self.q = torch.nn.Linear(8, 8, bias=False)
        self.factor = factor

    def forward(self, input_ids: torch.Tensor) -> BaseModelOutput:
        q = self.q(self.emb(input_ids))
        angles = torch.arange(q.shape[1], dtype=torch.float32)[:, None] * torch.linspace(0.1, 1.0, 4)
        cos, sin = torch.cat([angles.cos()] * 2, -1) * self.factor, torch.cat([angles.sin()] * 2, -1) * self.factor
        rotated = torch.cat((-q[..., 4:], q[..., :4]), dim=-1)
        return BaseModelOutput(last_hidden_state=(q * cos + rotated * sin) @ q.transpose(-1, -2))


def _rotary(factor: float):
    torch.manual_seed(0)
    net = _Rotary(factor).eval()
    ids = torch.tensor([[1, 5, 9, 15, 3]])
    run = secure_run(lambda: _Rotary(factor), net.state_dict(), output="last_hidden_state", input_ids=ids)
    with torch.no_grad():
        ref = net(ids).last_hidden_state
    return float((run.results["client"] - ref).abs().max()), run.meters["client"].summary()["online_rounds"]


def test_public_linear_maps_keep_a_projection_untruncated():
    """Slicing, negation, concatenation, sums and products with public reals of magnitude <= 1 (rotary's cos and
    sin) stay local: the rotated projection is truncated once. A factor above 1 truncates before its product."""
    err, rounds = _rotary(1.0)
    err_big, rounds_big = _rotary(1.5)
    assert err < 2e-3 and err_big < 5e-3
    # embedding 2, projection 1, the rotated projection's one truncation 1, q^T's 1, the product 1 and its
    # truncation 1, the reveal 1; with factor 1.5 q and the rotated half are truncated before their products
    assert (rounds, rounds_big) == (8, 10)
