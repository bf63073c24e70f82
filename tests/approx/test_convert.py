"""approximate(model, recipe) on GPT-2, BERT, RoBERTa, BART and T5: structure and plaintext behaviour."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from privformers import approximate
from privformers.approx import (
    RECIPES,
    AffineLayerNorm,
    CubicReLUSoftmax,
    MergeModule,
    QuadGELU,
    TwoQuadSoftmax,
    TwoReLUSoftmax,
    recipe_of,
)
from privformers.approx.convert import _is_gelu, _is_norm
from privformers.kv_cache import cache_kwargs, returned_cache
from tests.approx.families import FAMILIES, seeded

SOFTMAX = {"mpcformer-quad-2quad": TwoQuadSoftmax, "mpcformer-quad-2relu": TwoReLUSoftmax, "thex": CubicReLUSoftmax}


def _count(model: nn.Module, cls: type) -> int:
    return sum(isinstance(m, cls) for m in model.modules())


def _run(model: nn.Module, inputs: dict) -> object:
    with torch.no_grad():
        return model(**inputs, output_attentions=True, output_hidden_states=True)


def _attentions(out: object) -> list[torch.Tensor]:
    keys = [k for k in ("attentions", "encoder_attentions", "decoder_attentions", "cross_attentions") if k in out]
    return [a for k in keys for a in out[k]]


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_structure_and_outputs(family: str, recipe: str) -> None:
    teacher = seeded(family)
    inputs = FAMILIES[family][1]
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = approximate(teacher, recipe).eval()
    r = recipe_of(student)
    assert r.name == recipe and recipe_of(teacher) is None
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())  # the teacher is a copy's source
    ref, out = _run(teacher, inputs), _run(student, inputs)
    assert out.logits.shape == ref.logits.shape and torch.isfinite(out.logits).all()
    hidden = [k for k in ref if k.endswith("hidden_states")]
    assert [len(out[k]) for k in hidden] == [len(ref[k]) for k in hidden]  # for distillation: every hidden state
    assert [a.shape for a in _attentions(out)] == [a.shape for a in _attentions(ref)]  # and attention maps
    if r.activation == "quad":
        assert _count(student, QuadGELU) > 0 and not any(_is_gelu(m) or isinstance(m, nn.ReLU)
                                                         for m in student.modules())
    if r.activation == "relu":
        assert _count(student, nn.ReLU) > 0 and not any(_is_gelu(m) for m in student.modules())
    if r.norm == "affine":
        assert _count(student, AffineLayerNorm) > 0 and not any(_is_norm(m) for m in student.modules())
    if r.softmax:
        assert _count(student, SOFTMAX[recipe]) == len(_attentions(out))
    if r.merge:
        assert _count(student, MergeModule) == len(_attentions(out))
        names = [n for n, _ in student.named_parameters()]
        assert not any(n.endswith((".query.weight", ".key.weight", "q_proj.weight", "k_proj.weight", ".q.weight",
                                   ".k.weight", "c_attn.weight")) for n in names)
    if recipe == "merge-er":  # Embedding Resending changes generation only: the forward pass is the teacher's
        assert torch.equal(out.logits, ref.logits)
    else:
        assert not torch.allclose(out.logits, ref.logits)


@pytest.mark.parametrize("recipe", ["mpcformer-quad-2quad", "mpcformer-quad-2relu"])
def test_quad_softmax_attention_rows_sum_to_one(recipe: str) -> None:
    out = _run(approximate(seeded("bert"), recipe).eval(), FAMILIES["bert"][1])
    att = out.attentions[0]
    assert torch.equal(att[..., 6:], torch.zeros_like(att[..., 6:]))  # padding positions get nothing
    rows = att.sum(-1)
    assert torch.allclose(rows[rows > 0], torch.ones_like(rows[rows > 0]), atol=1e-5)


def test_merge_module_attention_starts_uniform() -> None:
    """M = ones: the masked variant averages the visible prefix (GPT-2) or the unpadded tokens (BERT)."""
    out = _run(approximate(seeded("gpt2"), "merge-mm", merge="masked").eval(), FAMILIES["gpt2"][1])
    causal = torch.tril(torch.ones(8, 8)) / torch.arange(1, 9)[:, None]
    assert torch.allclose(out.attentions[0][0, 1], causal)
    out = _run(approximate(seeded("bert"), "merge", merge="masked").eval(), FAMILIES["bert"][1])
    assert torch.allclose(out.attentions[0][0, 0], torch.tensor([1 / 6] * 6 + [0, 0]).expand(8, 8))


@pytest.mark.parametrize("family", ["gpt2", "bart", "t5"])
@pytest.mark.parametrize("recipe", ["mpcformer-quad-2quad", "thex", "merge-mm"])
def test_kv_cache_matches_full_recompute(family: str, recipe: str) -> None:
    """A decode step with the cache gives the logits of rerunning the whole sequence."""
    model = approximate(seeded(family), recipe).eval()
    ids = FAMILIES[family][1]["input_ids"]
    with torch.no_grad():
        if family == "gpt2":
            full = model(ids).logits[:, -1]
            past = returned_cache(model(ids[:, :-1], use_cache=True))
            step = model(ids[:, -1:], **cache_kwargs(model, past), use_cache=True).logits[:, -1]
        else:
            dec = ids[:, :5]
            full = model(input_ids=ids, decoder_input_ids=dec).logits[:, -1]
            first = model(input_ids=ids, decoder_input_ids=dec[:, :-1], use_cache=True)
            step = model(encoder_outputs=(first.encoder_last_hidden_state,), decoder_input_ids=dec[:, -1:],
                         **cache_kwargs(model, returned_cache(first)), use_cache=True).logits[:, -1]
    assert torch.allclose(full, step, atol=1e-5)


def test_students_train() -> None:
    """Gradients reach the new parameters (Merge Module matrices, THE-X normalisers)."""
    for recipe, cls in (("merge", MergeModule), ("thex", CubicReLUSoftmax)):
        model = approximate(seeded("gpt2"), recipe).train()
        model(**FAMILIES["gpt2"][1], labels=FAMILIES["gpt2"][1]["input_ids"]).loss.backward()
        new = [p for m in model.modules() if isinstance(m, cls) for p in m.parameters()]
        assert new and all(p.grad is not None and p.grad.abs().sum() > 0 for p in new)


def test_bad_inputs() -> None:
    model = seeded("gpt2")
    with pytest.raises(ValueError, match="unknown recipe"):
        approximate(model, "fast")
    with pytest.raises(ValueError, match="already converted"):
        approximate(approximate(model, "thex"), "thex")
    with pytest.raises(ValueError, match="merge or softmax"):
        approximate(model, "merge", softmax="2quad")
    with pytest.raises(ValueError, match="model types"):
        approximate(nn.Linear(2, 2), "thex")
    model.config._attn_implementation = "sdpa"
    with pytest.raises(ValueError, match="eager"):
        approximate(model, "mpcformer-quad-2quad")
    with pytest.raises(ValueError, match="max length"):
        approximate(seeded("t5"), "merge-mm", merge_max_len=4)(**FAMILIES["t5"][1])
