"""Module rules: GPT-2's NewGELUActivation runs as one tanh-form GeLU protocol under MPC."""

import torch
from transformers.activations import NewGELUActivation
from transformers.modeling_outputs import BaseModelOutput

from privformers.secure.modules import MODULE_RULES, apply_module_rules
from privformers.secure.runtime import secure_run


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(16, 8)
        self.act = NewGELUActivation()

    def forward(self, input_ids: torch.Tensor) -> BaseModelOutput:
        return BaseModelOutput(last_hidden_state=self.act(self.emb(input_ids) * 3.0))


def test_new_gelu_rule_is_registered_and_plaintext_unchanged():
    assert "NewGELUActivation" in MODULE_RULES
    net = _Net()
    x = torch.randn(4, 8)
    before = net.act(x)
    assert apply_module_rules(net) == ["act"]
    assert torch.equal(net.act(x), before)  # plaintext input: the module's own forward


def test_new_gelu_rule_under_mpc_matches_and_costs_one_activation_protocol():
    torch.manual_seed(0)
    net = _Net().eval()
    ids = torch.tensor([[1, 5, 9, 15]])
    run = secure_run(_Net, net.state_dict(), output="last_hidden_state", input_ids=ids)
    ref = net(ids).last_hidden_state
    assert (run.results["client"] - ref).abs().max() < 3e-3
    rounds = run.meters["client"].summary()["breakdown"]["activation"]["rounds"]
    assert rounds <= 16, rounds  # the op-by-op form (pow, tanh by exp + reciprocal) took 36
