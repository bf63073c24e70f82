"""fit_affine_norms: per-feature least squares of each affine norm against the teacher's norm."""

from __future__ import annotations

import pytest
import torch

from privformers import approximate
from privformers.approx import AffineLayerNorm, Recipe, fit_affine_norms
from tests.approx.families import FAMILIES, PAD_MASK, seeded


def _batches(family: str, n: int = 3) -> list[dict[str, torch.Tensor]]:
    base = FAMILIES[family][1]
    g = torch.Generator().manual_seed(11)
    out = []
    for _ in range(n):
        batch = {k: v.clone() for k, v in base.items() if k != "position_ids"}
        batch["input_ids"] = torch.randint(3, 101, batch["input_ids"].shape, generator=g)
        out.append(batch)
    return out


def _keeper(got: dict, key: tuple) -> object:
    def hook(m: torch.nn.Module, i: tuple, o: torch.Tensor) -> None:
        got.setdefault(key, []).append(o.detach())
    return hook


def _norm_errors(student: torch.nn.Module, teacher: torch.nn.Module, batches: list[dict]) -> dict[str, float]:
    """Mean squared error between each affine norm's output and the teacher's norm of the same name."""
    got: dict[str, list[torch.Tensor]] = {}
    affine = {name for name, m in student.named_modules() if isinstance(m, AffineLayerNorm)}
    hooks = []
    for model, tag in ((student, "s"), (teacher, "t")):
        for name, m in model.named_modules():
            if name in affine:
                hooks.append(m.register_forward_hook(_keeper(got, (tag, name))))
    with torch.no_grad():
        for b in batches:
            student(**b)
            teacher(**b)
    for h in hooks:
        h.remove()
    names = [k[1] for k in got if k[0] == "s"]
    return {n: float(torch.stack([((a - b) ** 2).mean() for a, b in zip(got[("s", n)], got[("t", n)])]).mean())
            for n in names}


def test_first_norm_is_the_closed_form_least_squares() -> None:
    """The first norm sees the same input in student and teacher, so its fit is per-feature OLS on that input."""
    teacher = seeded("gpt2")
    student = approximate(teacher, Recipe("affine-only", norm="affine"))
    batches = _batches("gpt2")
    xs, ys = [], []
    ln = teacher.transformer.h[0].ln_1

    def keep(m: torch.nn.Module, i: tuple, o: torch.Tensor) -> None:
        xs.append(i[0].reshape(-1, 32))
        ys.append(o.reshape(-1, 32))

    h = ln.register_forward_hook(keep)
    with torch.no_grad():
        for b in batches:
            teacher(**b)
    h.remove()
    x, y = torch.cat(xs).double(), torch.cat(ys).double()
    assert fit_affine_norms(student, teacher, batches) == 5  # 2 layers x 2 norms + the final norm
    fitted = student.transformer.h[0].ln_1
    for j in (0, 7, 31):
        design = torch.stack([x[:, j], torch.ones_like(x[:, j])], 1)
        w, b = torch.linalg.lstsq(design, y[:, j : j + 1]).solution.flatten()
        assert float(fitted.weight[j].detach()) == pytest.approx(float(w), rel=1e-4, abs=1e-6)
        assert float(fitted.bias[j].detach()) == pytest.approx(float(b), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_fitted_norm_beats_gamma_and_beta_on_its_own_inputs(family: str) -> None:
    """Norms are fitted in order on the student's own inputs, so with every other norm as fitted,
    putting one norm back to the teacher's gamma and beta can only raise that norm's error."""
    teacher = seeded(family)
    batches = _batches(family)
    student = approximate(teacher, "thex")
    teacher_norms = dict(teacher.named_modules())
    assert fit_affine_norms(student, teacher, batches) > 0
    fitted = _norm_errors(student, teacher, batches)
    improved = 0
    for name, norm in student.named_modules():
        if isinstance(norm, AffineLayerNorm):
            saved = norm.weight.detach().clone(), norm.bias.detach().clone()
            with torch.no_grad():
                reset = AffineLayerNorm.from_norm(teacher_norms[name])
                norm.weight.copy_(reset.weight)
                norm.bias.copy_(reset.bias)
            gamma = _norm_errors(student, teacher, batches)[name]
            assert fitted[name] <= gamma * (1 + 1e-5) + 1e-9, (name, fitted[name], gamma)
            improved += fitted[name] < 0.99 * gamma
            with torch.no_grad():
                norm.weight.copy_(saved[0])
                norm.bias.copy_(saved[1])
    assert improved > 0


def test_padding_positions_do_not_enter_the_fit() -> None:
    """Changing the tokens at padded positions (mask 0) must not change the fitted maps."""
    teacher = seeded("bert")
    batches = _batches("bert")
    assert (batches[0]["attention_mask"] == PAD_MASK).all()
    other = [{k: v.clone() for k, v in b.items()} for b in batches]
    for b in other:
        b["input_ids"][:, -2:] = 5
    first, second = approximate(teacher, "thex"), approximate(teacher, "thex")
    fit_affine_norms(first, teacher, batches)
    fit_affine_norms(second, teacher, other)
    for a, b in zip(first.modules(), second.modules()):
        if isinstance(a, AffineLayerNorm):
            assert torch.allclose(a.weight, b.weight) and torch.allclose(a.bias, b.bias)


def test_bad_inputs() -> None:
    teacher = seeded("gpt2")
    student = approximate(teacher, "thex")
    with pytest.raises(ValueError, match="at least one batch"):
        fit_affine_norms(student, teacher, [])
    with pytest.raises(ValueError, match="no norm named"):
        fit_affine_norms(student, seeded("bert"), _batches("gpt2"))
