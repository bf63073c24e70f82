"""The approximations' dedicated secure ops against their plaintext formulas, and their costs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

import privformers.secure.ops  # noqa: F401 - registers the secure ops
from privformers.approx import CubicReLUSoftmax, MergeModule, QuadGELU, TwoQuadSoftmax, TwoReLUSoftmax
from privformers.approx.masks import causal_keep
from privformers.mpc.meter import diff
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.protocols.inputs import reveal_to, share_input
from privformers.mpc.session import LocalRun, Program, run_local
from privformers.secure.tensor import SecretTensor
from privformers.secure.weights import protect_weights

GEN = torch.Generator().manual_seed(0)


def run_module(factory: Callable[[], nn.Module], x: torch.Tensor, call: Callable[[nn.Module, SecretTensor], object],
               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, LocalRun, dict]:
    """(plaintext result, MPC result, run, online bytes each party sent during the call) for a
    module with server-held parameters applied to the client's secret x."""
    torch.manual_seed(seed)
    module = factory()
    with torch.no_grad():
        ref = call(module, x)
    weights = module.state_dict()
    sent: dict[str, int] = {}

    def setup(party: Party) -> nn.Module:
        m = factory()
        if party.role == SERVER:
            m.load_state_dict(weights)
        protect_weights(m, party)
        return m

    def run(party: Party, m: nn.Module) -> torch.Tensor | None:
        s = SecretTensor(share_input(party, CLIENT, x if party.role == CLIENT else None, tuple(x.shape)))
        before = party.meter.snapshot()
        y = call(m, s)
        if party.mode == "online":
            sent[party.role] = sum(v for k, v in diff(party.meter.snapshot(), before)["bytes"].items()
                                   if k.startswith("online/"))
        return reveal_to(y.share, CLIENT)

    out = run_local(Program(run=run, setup=setup))
    return ref.double(), out.results[CLIENT], out, sent


def test_quad_gelu() -> None:
    x = torch.linspace(-20, 20, 801, dtype=torch.float64)
    ref, got, run, _ = run_module(QuadGELU, x, lambda m, s: m(s))
    assert (got - ref).abs().max() < 1e-3
    bd = run.meters[CLIENT].summary()["breakdown"]
    assert bd["activation"]["rounds"] == 2  # one square, one truncation


@pytest.mark.parametrize("cls", [TwoQuadSoftmax, TwoReLUSoftmax, CubicReLUSoftmax])
def test_softmax_approximations_with_mask(cls: type) -> None:
    scores = (torch.rand(1, 2, 6, 6, generator=GEN) - 0.5) * 12
    keep = causal_keep(0, 6, 6)
    ref, got, run, _ = run_module(cls, scores, lambda m, s: m(s, keep))
    assert (got - ref).abs().max() < 2e-3
    assert torch.equal(got[..., ~keep[0, 0]], torch.zeros_like(got[..., ~keep[0, 0]]))
    bd = run.meters[CLIENT].summary()["breakdown"]
    assert bd["softmax"]["online_bytes"] > 0 and bd["activation"]["online_bytes"] == 0  # charged to softmax


@pytest.mark.parametrize("variant", ["masked", "zeroed"])
def test_merge_attention_is_a_product_with_a_server_matrix(variant: str) -> None:
    value = torch.randn(1, 2, 6, 4, generator=GEN)
    keep = causal_keep(2, 4, 6)  # four queries at positions 2..5 (as after a cached prefix of 2)

    def factory() -> MergeModule:
        mm = MergeModule(2, 8, variant)
        nn.init.normal_(mm.M, std=1.0)
        return mm

    ref, got, run, sent = run_module(factory, value, lambda m, s: m(s, 2, 4, keep)[0])
    assert (got - ref).abs().max() < 1e-3
    out_numel = 1 * 2 * 4 * 4
    p_numel = 1 * 2 * 4 * 6  # heads x queries x keys
    # P under a one-time pad (online, so the offline pass talks only to the dealer) and its half of the truncation
    assert sent[SERVER] == 8 * p_numel + 8 * out_numel
    assert sent[CLIENT] == 8 * value.numel() + 8 * out_numel  # its masked values, once, and the truncation
    bd = run.meters[CLIENT].summary()["breakdown"]
    assert bd["softmax"]["online_bytes"] == 0 and bd["linear"]["rounds"] == 2


def test_merge_attention_messages_look_uniform(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the server's weights P nor the client's values cross in the clear: every message
    between client and server is masked (its top bits are uniform, unlike small fixed-point values)."""
    sent: list[tuple[str, str, torch.Tensor]] = []
    original = Party.send

    def spy(self: Party, to: str, msg: object) -> None:
        if isinstance(msg, torch.Tensor) and {self.role, to} == {CLIENT, SERVER} and msg.numel() >= 256:
            sent.append((self.role, self.mode, msg.clone()))
        original(self, to, msg)

    monkeypatch.setattr(Party, "send", spy)
    value = torch.randn(1, 2, 16, 8, generator=GEN)
    run_module(lambda: MergeModule(2, 16, "masked"), value, lambda m, s: m(s, 0, 16, causal_keep(0, 16, 16))[0])
    kinds = {(role, mode) for role, mode, _ in sent}
    assert {(SERVER, "online"), (CLIENT, "online")} <= kinds  # P - B and V_c - A, both online
    assert not {(SERVER, "offline"), (CLIENT, "offline")} & kinds  # the offline pass talks only to the dealer
    for _, _, msg in sent:
        top = ((msg >> 63) & 1).double().mean()
        assert 0.3 < top < 0.7


def test_merge_attention_masks_cached_values_once() -> None:
    """Decode steps with a growing value cache: only the new rows are masked and sent."""
    from privformers.mpc.shares import cat

    first, step = torch.randn(1, 2, 5, 4, generator=GEN), torch.randn(1, 2, 1, 4, generator=GEN)
    torch.manual_seed(0)
    module = MergeModule(2, 8, "zeroed")
    nn.init.normal_(module.M)
    weights, sent = module.state_dict(), {}

    def setup(party: Party) -> nn.Module:
        m = MergeModule(2, 8, "zeroed")
        if party.role == SERVER:
            m.load_state_dict(weights)
        protect_weights(m, party)
        return m

    def run(party: Party, m: nn.Module) -> list:
        memo: dict = {}
        v = share_input(party, CLIENT, first if party.role == CLIENT else None, tuple(first.shape))
        out0 = m(SecretTensor(v), 0, 5, causal_keep(0, 5, 5), memo)[0]
        v = cat([v, share_input(party, CLIENT, step if party.role == CLIENT else None, tuple(step.shape))], -2)
        before = party.meter.snapshot()
        out1 = m(SecretTensor(v), 5, 1, causal_keep(5, 1, 6), memo)[0]
        if party.mode == "online":
            sent[party.role] = sum(n for k, n in diff(party.meter.snapshot(), before)["bytes"].items()
                                   if k.startswith("online/"))
        return [reveal_to(out0.share, CLIENT), reveal_to(out1.share, CLIENT)]

    got = run_local(Program(run=run, setup=setup)).results[CLIENT]
    with torch.no_grad():
        ref0 = module(first, 0, 5, causal_keep(0, 5, 5))[0]
        ref1 = module(torch.cat([first, step], -2), 5, 1, causal_keep(5, 1, 6))[0]
    assert (got[0] - ref0).abs().max() < 1e-3 and (got[1] - ref1).abs().max() < 1e-3
    assert sent[CLIENT] == 8 * step.numel() + 8 * ref1.numel()  # the new row only, and the truncation
