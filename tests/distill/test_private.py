"""``distill_private``: MPCFormer's losses per example, DP-SGD on a tiny student, cryptographic randomness only."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

from privformers.approx import approximate
from privformers.distill import PrivateDistillConfig, Stage, distill_private, mpcformer_stage1, mpcformer_stage2
from privformers.dp.datasets import pad_collate


def _teacher(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "bert":
        config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=32, max_position_embeddings=32, num_labels=2, hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0)
        return BertForSequenceClassification._from_config(config, attn_implementation="eager").eval()
    config = GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50, n_positions=32, resid_pdrop=0.0,
                        embd_pdrop=0.0, attn_pdrop=0.0)
    return GPT2LMHeadModel._from_config(config, attn_implementation="eager").eval()


def _examples(n: int, lm: bool) -> list[dict]:
    rng = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        ids = torch.randint(1, 50, (3 + i % 5,), generator=rng).tolist()
        out.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": ids if lm else i % 2})
    return out


@pytest.mark.parametrize("kind", ["bert", "gpt2"])
@pytest.mark.parametrize("stage", [mpcformer_stage1, mpcformer_stage2])
def test_per_example_terms_are_each_examples_own_loss(kind: str, stage) -> None:
    """Each example's loss in a padded batch equals the batch loss of that example alone."""
    teacher = _teacher(kind)
    student = approximate(teacher, "mpcformer-quad-2quad").eval()
    examples = _examples(4, kind == "gpt2")
    collate = pad_collate(0)
    batch = stage(per_example=True)(student, teacher, collate(examples))
    assert batch["loss"].shape == (4,)
    for i, example in enumerate(examples):
        alone = stage()(student, teacher, collate([example]))
        for name, value in alone.items():
            assert float(batch[name][i]) == pytest.approx(float(value), rel=1e-4, abs=1e-6), (name, i)


def _forbid_torch_samplers(patch: pytest.MonkeyPatch) -> None:
    def forbidden(*args, **kwargs):
        raise AssertionError("torch's generator was used for DP randomness")

    for name in ("normal", "randn", "rand", "randint", "bernoulli", "randperm"):
        patch.setattr(torch, name, forbidden)


def _run(noise: float, monkeypatch: pytest.MonkeyPatch | None = None) -> dict[str, torch.Tensor]:
    teacher = _teacher("bert")
    student = approximate(teacher, "mpcformer-quad-2quad")
    stages = [Stage("stage1", mpcformer_stage1(per_example=True), 1),
              Stage("stage2", mpcformer_stage2(per_example=True), 2)]
    examples = _examples(12, lm=False)
    # q = 1: every example in every batch, so without noise two runs are the same computation
    config = PrivateDistillConfig(batch_size=12, noise_multiplier=noise, max_grad_norm=1.0, max_physical_batch_size=5,
                                  lr=1e-2)
    with monkeypatch.context() if monkeypatch is not None else pytest.MonkeyPatch.context() as patch:
        if monkeypatch is not None:
            _forbid_torch_samplers(patch)
        result = distill_private(student, teacher, examples, pad_collate(0), stages, config)
    assert result == {"sample_rate": 1.0, "noise_multiplier": noise, "steps": 3}
    return {k: v.detach().clone() for k, v in student.state_dict().items()}


def test_noise_comes_from_the_cryptographic_stream_and_changes_the_student(monkeypatch: pytest.MonkeyPatch) -> None:
    noisy_a, noisy_b = _run(1.0, monkeypatch), _run(1.0, monkeypatch)
    quiet_a, quiet_b = _run(0.0), _run(0.0)
    start = approximate(_teacher("bert"), "mpcformer-quad-2quad").state_dict()
    key = "bert.encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(quiet_a[key], start[key])                   # it trained
    assert torch.allclose(quiet_a[key], quiet_b[key], atol=1e-6)         # control: no noise, the same student
    assert not torch.allclose(noisy_a[key], noisy_b[key], atol=1e-3)     # noise: fresh each run, not seeded


def test_a_student_layer_without_a_per_example_rule_is_refused() -> None:
    """THE-X's affine norms have no per-example gradient rule: the engine names them instead of guessing."""
    teacher = _teacher("bert")
    student = approximate(teacher, "thex")
    with pytest.raises(ValueError, match="no per-example gradient rule"):
        distill_private(student, teacher, _examples(4, False), pad_collate(0),
                        [Stage("stage2", mpcformer_stage2(per_example=True), 1)],
                        PrivateDistillConfig(batch_size=2, noise_multiplier=1.0))
