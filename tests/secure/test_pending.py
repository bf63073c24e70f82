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
