"""A few distillation steps on tiny random models: losses fall, MERGE trains, resume continues, MPC loads."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from privformers.approx import approximate, load_student, read_recipe
from privformers.distill import (
    MergeWeights,
    Stage,
    TrainerConfig,
    distill,
    losses,
    merge_objective,
    mpcformer_stage1,
    mpcformer_stage2,
)
from privformers.generation import generate_run
from privformers.models.load import from_path
from privformers.models.plain import plain_greedy
from privformers.secure.runtime import secure_run
from tests.approx.families import seeded


def _batches(n: int, seed: int, width: int = 8) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(3, 101, (4, width), generator=g)
        mask = torch.ones_like(ids)
        mask[1, -2:] = 0
        out.append({"input_ids": ids, "attention_mask": mask})
    return out


def _measure(objective, student, teacher, batches) -> float:
    student.eval()
    with torch.no_grad():
        return sum(float(objective(student, teacher, b)["loss"]) for b in batches) / len(batches)


def _kl(student, teacher, batches) -> float:
    with torch.no_grad():
        return sum(float(losses.soft_kl(student(**b).logits, teacher(**b).logits, 1.0)) for b in batches)


def test_mpcformer_two_stages_reduce_the_distillation_loss(tmp_path: Path) -> None:
    teacher = seeded("bert")
    student = approximate(teacher, "mpcformer-quad-2quad")
    for m in student.modules():  # dropout noise would swamp the small stage-2 gap of a near-uniform random teacher
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    batches = _batches(4, 1)
    s1, s2 = mpcformer_stage1(), mpcformer_stage2()
    before1 = _measure(s1, student, teacher, batches)
    distill(student, teacher, batches, [Stage("stage1", s1, 30)], tmp_path / "one", TrainerConfig(lr=3e-3))
    after1, before2 = _measure(s1, student, teacher, batches), _measure(s2, student, teacher, batches)
    gap1 = _kl(student, teacher, batches)  # soft CE minus the teacher's entropy (a near-uniform random teacher)
    summary = distill(student, teacher, batches, [Stage("stage2", s2, 30)], tmp_path, TrainerConfig(lr=3e-4))
    after2, gap2 = _measure(s2, student, teacher, batches), _kl(student, teacher, batches)
    assert after1 < 0.7 * before1 and after2 < before2 and gap2 < 0.5 * gap1, (before1, after1, before2, after2)
    assert "soft_ce" in summary["history"][-1]
    assert read_recipe(summary["student"]).name == "mpcformer-quad-2quad"


def test_merge_student_trains(tmp_path: Path) -> None:
    teacher = seeded("gpt2", 6)
    student = approximate(teacher, "merge")
    batches = _batches(3, 2)
    weights = MergeWeights(cosine=1.0, embed_mse=0.5, ce=1.0, soft_kl=1.0, inter=1.0, lam=0.5, eta=0.1, dropout=0.1)
    objective = merge_objective(weights)
    terms = objective(student.train(), teacher, batches[0])
    assert {"cosine", "embed_mse", "ce", "soft_kl", "inter", "loss"} <= terms.keys()
    clean = merge_objective(MergeWeights(**{**weights.__dict__, "eta": 0.0, "dropout": 0.0}))
    before = _measure(clean, student, teacher, batches)
    summary = distill(student, teacher, batches, [Stage("merge", objective, 40)], tmp_path, TrainerConfig(lr=3e-3))
    assert _measure(clean, student, teacher, batches) < 0.8 * before
    assert read_recipe(summary["student"]).name == "merge"


def test_resend_pass_feeds_the_previous_final_state_to_target_positions(monkeypatch) -> None:
    """The resend term's second pass: prompt positions read their embeddings, target positions the
    first pass's final state of the position before (as ER decoding feeds them); it trains."""
    teacher = seeded("gpt2", 6)
    student = approximate(teacher, "merge").eval()
    batch = _batches(1, 5)[0]
    labels = batch["input_ids"].clone()
    labels[:, :3] = -100  # a 3-token prompt
    batch["labels"] = labels
    seen = []
    forward = type(student).forward

    def spy(self, *args, **kwargs):
        if kwargs.get("inputs_embeds") is not None:
            seen.append(kwargs["inputs_embeds"].detach().clone())
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(type(student), "forward", spy)
    weights = MergeWeights(cosine=1.0, ce=1.0, lam=0.5, eta=0.0, dropout=0.0, resend=1.0)
    terms = merge_objective(weights)(student, teacher, batch)
    assert "resend" in terms and torch.isfinite(terms["resend"])
    main_pass, first, second = seen  # the usual pass, then the resend term's two passes
    e = student.get_input_embeddings()(batch["input_ids"])
    with torch.no_grad():
        h = forward(student, inputs_embeds=e, attention_mask=batch["attention_mask"],
                    output_hidden_states=True).hidden_states[-1]
    assert torch.equal(first, e.detach()) and torch.equal(second[:, :3], e[:, :3].detach())
    assert torch.allclose(second[:, 3:], h[:, 2:-1])


def test_zero_weight_disables_a_term() -> None:
    teacher = seeded("gpt2", 6)
    student = approximate(teacher, "merge-er")
    terms = merge_objective(MergeWeights(ce=0.0, soft_kl=0.0, lam=1.0))(student, teacher, _batches(1, 3)[0])
    assert set(terms) == {"cosine", "loss"} and torch.equal(terms["loss"].detach(), terms["cosine"])


def test_resume_continues_from_the_saved_step(tmp_path: Path) -> None:
    teacher = seeded("bert")
    batches = _batches(3, 4)
    stages = [Stage("stage1", mpcformer_stage1(), 4), Stage("stage2", mpcformer_stage2(), 4)]
    config = TrainerConfig(lr=1e-3, log_every=1, checkpoint_every=100)
    straight = approximate(teacher, "mpcformer-quad-2quad")
    distill(straight, teacher, batches, stages, tmp_path / "a", config)
    first = approximate(teacher, "mpcformer-quad-2quad")
    stopped = distill(first, teacher, batches, stages, tmp_path / "b", config, stop_after=6)
    assert stopped["stopped_at"] == {"stage": "stage2", "step": 2}
    resumed = approximate(seeded("bert", 9), "mpcformer-quad-2quad")  # weights come from the checkpoint
    summary = distill(resumed, teacher, batches, stages, tmp_path / "b", config, resume=True)
    assert [(r["stage"], r["step"]) for r in summary["history"]] == [("stage1", i) for i in range(1, 5)] + [
        ("stage2", i) for i in range(1, 5)]
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    assert json.loads((tmp_path / "b" / "distill_summary.json").read_text())["steps"] == {"stage1": 4, "stage2": 4}


def test_distilled_classifier_runs_under_mpc(tmp_path: Path) -> None:
    teacher = seeded("bert")
    student = approximate(teacher, "mpcformer-quad-2relu")
    batches = _batches(2, 5)
    summary = distill(student, teacher, batches, [Stage("stage2", mpcformer_stage2(), 3)], tmp_path)
    spec = from_path(summary["student"])
    assert spec.recipe.name == "mpcformer-quad-2relu"
    inputs = {k: v[:1] for k, v in batches[0].items()}
    with torch.no_grad():
        ref = load_student(summary["student"])(**inputs).logits.double()
    got = secure_run(spec.factory, spec.weights(), **inputs).results["client"]
    assert got.shape == ref.shape and (got - ref).abs().max() < 1e-2


def test_distilled_merge_student_generates_under_mpc(tmp_path: Path) -> None:
    teacher = seeded("gpt2", 6)
    student = approximate(teacher, "merge")
    summary = distill(student, teacher, _batches(2, 6), [Stage("merge", merge_objective(), 3)], tmp_path)
    spec = from_path(summary["student"])
    prompt = [5, 17, 42, 8]
    ref, _ = plain_greedy(load_student(summary["student"]), prompt, 2)
    assert generate_run(spec.factory, spec.weights, prompt, 2).results["client"]["tokens"] == ref
