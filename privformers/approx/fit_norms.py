"""Fit a converted student's affine norms to the teacher's norms by least squares, before distillation.

THE-X's affine map starts from the norm's gamma and beta, which ignores the division by each token's
standard deviation: on the built-in E2E GPT-2 with Quad GeLU that start has a loss in the thousands.
Fitting each affine map, in the order the forward pass calls them, per feature as y_j ~ w_j x_j + b_j
(x: the student's own input to that norm, earlier norms already fitted; y: the teacher's norm output
on the same tokens) gives distillation a start near the teacher. Plaintext only: it runs on the training data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from privformers.approx.affine_norm import AffineLayerNorm

_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "decoder_input_ids", "decoder_attention_mask")


def _inputs(batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in batch.items() if k in _MODEL_INPUTS}


def _tokens(t: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """(..., dim) activations as (tokens, dim), without padding positions when keep matches their shape."""
    flat = t.detach().reshape(-1, t.shape[-1])
    if keep is not None and keep.numel() == flat.shape[0]:
        flat = flat[keep.reshape(-1).bool()]
    return flat.double()


def _capture(module: nn.Module, sink: list[torch.Tensor], keep: torch.Tensor | None,
             output: bool) -> torch.utils.hooks.RemovableHandle:
    """Append the module's input (or output) tokens to sink on each forward."""
    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        sink.append(_tokens(out if output else args[0], keep))
    return module.register_forward_hook(hook)


def _execution_order(model: nn.Module, modules: list[tuple[str, nn.Module]],
                     inputs: dict[str, torch.Tensor]) -> list[tuple[str, nn.Module]]:
    """modules sorted by their first call in a forward pass (definition order can differ: BART defines
    its embedding norm after its layers), so each fit sees inputs its upstream fits already shaped."""
    first: dict[str, int] = {}
    def order(name: str):
        def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
            first.setdefault(name, len(first))
        return hook
    handles = [m.register_forward_hook(order(name)) for name, m in modules]
    try:
        model(**inputs)
    finally:
        for h in handles:
            h.remove()
    return sorted(modules, key=lambda nm: first.get(nm[0], len(modules)))


@torch.no_grad()
def fit_affine_norms(student: nn.Module, teacher: nn.Module, batches: Iterable[Mapping[str, torch.Tensor]],
                     eps: float = 1e-8) -> int:
    """Set every AffineLayerNorm of student to the per-feature least-squares fit of the teacher's norm
    of the same name (see the module docstring). Returns how many norms were fitted."""
    batches = list(batches)
    if not batches:
        raise ValueError("fit_affine_norms needs at least one batch")
    teacher_modules = dict(teacher.named_modules())
    affine = [(name, m) for name, m in student.named_modules() if isinstance(m, AffineLayerNorm)]
    missing = [name for name, _ in affine if name not in teacher_modules]
    if missing:
        raise ValueError(f"the teacher has no norm named {missing[0]!r}: was the student converted from it?")
    was_training = student.training, teacher.training
    student.eval()
    teacher.eval()
    try:
        for name, norm in _execution_order(student, affine, _inputs(batches[0])):
            xs: list[torch.Tensor] = []
            ys: list[torch.Tensor] = []
            for batch in batches:
                inputs = _inputs(batch)
                keep = inputs.get("attention_mask")
                h1 = _capture(norm, xs, keep, output=False)
                h2 = _capture(teacher_modules[name], ys, keep, output=True)
                try:
                    student(**inputs)
                    teacher(**inputs)
                finally:
                    h1.remove()
                    h2.remove()
            x, y = torch.cat(xs), torch.cat(ys)
            if x.shape != y.shape:
                raise ValueError(f"norm {name!r}: student and teacher saw different tokens ({x.shape} vs {y.shape})")
            mx, my = x.mean(0), y.mean(0)
            weight = ((x - mx) * (y - my)).mean(0) / ((x - mx) ** 2).mean(0).clamp_min(eps)
            norm.weight.copy_(weight.to(norm.weight.dtype))
            norm.bias.copy_((my - weight * mx).to(norm.bias.dtype))
    finally:
        student.train(was_training[0])
        teacher.train(was_training[1])
    return len(affine)
