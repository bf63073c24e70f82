"""Per-batch distillation objectives: MPCFormer's two stages and MERGE's ER/MM training.

Each objective maps (student, teacher, batch) to a dict of named loss terms plus ``loss`` (their
weighted sum), so the trainer can log every term. A weight of 0 disables a term (it is not computed).
MPCFormer's objectives with ``per_example=True`` give every term per example, shape (batch,), for DP-SGD.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from privformers.approx.resending import embed
from privformers.distill import losses

Objective = Callable[[nn.Module, nn.Module, dict[str, torch.Tensor]], dict[str, torch.Tensor]]


def _inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model inputs of a batch (labels are for the objective, not the forward)."""
    return {k: v for k, v in batch.items() if k != "labels"}


def _teacher(teacher: nn.Module, batch: dict[str, torch.Tensor]):
    with torch.no_grad():
        return teacher(**_inputs(batch), output_hidden_states=True, output_attentions=True)


def _sum(terms: dict[str, tuple[float, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Weighted sum of (weight, value) terms; the result has every term (detached) and ``loss``."""
    if not terms:
        raise ValueError("every loss term has weight 0: nothing to train")
    out = {name: value.detach() for name, (_, value) in terms.items()}
    out["loss"] = sum(w * v for w, v in terms.values())
    return out


@dataclass(frozen=True)
class MPCFormerWeights:
    """Stage 1 weights (attention maps, hidden states) and stage 2's temperature and regression switch."""

    attention: float = 1.0
    hidden: float = 1.0
    temperature: float = 1.0
    regression: bool = False


def mpcformer_stage1(weights: MPCFormerWeights = MPCFormerWeights(), per_example: bool = False) -> Objective:
    """Stage 1: MSE on attention probability maps and on every hidden state, layer by layer."""

    def objective(student: nn.Module, teacher: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        t = _teacher(teacher, batch)
        s = student(**_inputs(batch), output_hidden_states=True, output_attentions=True)
        mask = batch.get("attention_mask")
        terms = {}
        if weights.attention:
            terms["attention"] = (weights.attention,
                                  losses.attention_mse(s.attentions, t.attentions, mask, per_example))
        if weights.hidden:
            terms["hidden"] = (weights.hidden, losses.hidden_mse(s.hidden_states, t.hidden_states, mask, per_example))
        return _sum(terms)

    return objective


def mpcformer_stage2(weights: MPCFormerWeights = MPCFormerWeights(), per_example: bool = False) -> Objective:
    """Stage 2: soft cross-entropy on the teacher's logits (per token for an LM), or MSE for regression."""

    def objective(student: nn.Module, teacher: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            t = teacher(**_inputs(batch)).logits
        s = student(**_inputs(batch)).logits
        mask = batch.get("attention_mask") if s.dim() == 3 else None
        if weights.regression:
            mse = ((s - t) ** 2).flatten(1).mean(1) if per_example else torch.nn.functional.mse_loss(s, t)
            return _sum({"logits_mse": (1.0, mse)})
        return _sum({"soft_ce": (1.0, losses.soft_cross_entropy(s, t, weights.temperature, mask, per_example))})

    return objective


@dataclass(frozen=True)
class MergeWeights:
    """MERGE's terms and knobs. total = lam * (cosine*L_cos + embed_mse*L_emb)
    + (1 - lam) * (ce*L_ce + soft_kl*L_kl + inter*L_inter); a weight of 0 disables its term.

    eta: amplitude of the uniform noise U(-eta, eta) added to the student's input embeddings;
    dropout: dropout probability on them (teacher forcing on noisy embeddings, as in ER decoding
    the inputs are the student's own imperfect final states); tau: soft-label temperature.
    resend (ours, beyond the seed; 0 = off): weight of a second pass in which every target position
    reads the student's own final state of the previous position (from a first, teacher-forced
    pass without gradient) instead of the token's embedding, as ER decoding feeds it; its terms
    are the same cosine/embed_mse/ce mix. It trains the student on the inputs it will really see.
    """

    cosine: float = 1.0
    embed_mse: float = 0.0
    ce: float = 1.0
    soft_kl: float = 0.0
    inter: float = 0.0
    lam: float = 0.75
    tau: float = 4.0
    eta: float = 0.75
    dropout: float = 0.6
    resend: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.lam <= 1 or not 0 <= self.dropout < 1 or self.eta < 0 or self.tau <= 0:
            raise ValueError("need 0 <= lam <= 1, 0 <= dropout < 1, eta >= 0, tau > 0")


def noisy_embeddings(student: nn.Module, ids: torch.Tensor, eta: float, dropout: float) -> torch.Tensor:
    """The student's input embeddings of ids plus uniform noise in [-eta, eta], then dropout (training only)."""
    e = embed(student, ids)
    if eta:
        e = e + (torch.rand_like(e) * 2 - 1) * eta
    return torch.nn.functional.dropout(e, dropout, training=student.training)


def merge_objective(weights: MergeWeights = MergeWeights()) -> Objective:
    """MERGE's training of a decoder-only student (ER and/or MM) against its teacher."""

    def objective(student: nn.Module, teacher: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        ids, mask = batch["input_ids"], batch.get("attention_mask")
        mask = torch.ones_like(ids) if mask is None else mask
        labels = batch.get("labels", ids.masked_fill(mask == 0, -100))
        need_teacher = weights.soft_kl or weights.inter
        t = _teacher(teacher, batch) if need_teacher else None
        s = student(inputs_embeds=noisy_embeddings(student, ids, weights.eta, weights.dropout),
                    attention_mask=mask, output_hidden_states=True)
        pair_mask = mask[:, :-1] * mask[:, 1:]  # position t has a real next token
        h = s.hidden_states[-1][:, :-1]
        with torch.no_grad():
            target = embed(student, ids[:, 1:])
        lam, terms = weights.lam, {}
        if weights.cosine and lam:
            terms["cosine"] = (lam * weights.cosine, losses.cosine_embedding(h, target, pair_mask))
        if weights.embed_mse and lam:
            terms["embed_mse"] = (lam * weights.embed_mse, losses.embedding_mse(h, target, pair_mask))
        if weights.ce and lam < 1:
            terms["ce"] = ((1 - lam) * weights.ce, losses.token_cross_entropy(s.logits, labels))
        if weights.soft_kl and lam < 1:
            terms["soft_kl"] = ((1 - lam) * weights.soft_kl,
                                losses.soft_kl(s.logits, t.logits, weights.tau, mask))
        if weights.inter and lam < 1:
            terms["inter"] = ((1 - lam) * weights.inter,
                              losses.hidden_mse(s.hidden_states[1:-1], t.hidden_states[1:-1], mask))
        if weights.resend:
            terms["resend"] = (weights.resend, _resend_loss(student, ids, mask, labels, target, pair_mask, weights))
        return _sum(terms)

    return objective


def _resend_loss(student: nn.Module, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor,
                 target: torch.Tensor, pair_mask: torch.Tensor, weights: MergeWeights) -> torch.Tensor:
    """One unrolled ER step: target positions (labels != -100) read the previous position's final
    state of a teacher-forced pass (no gradient through it), prompt positions their embeddings."""
    e = embed(student, ids)
    with torch.no_grad():
        h0 = student(inputs_embeds=e, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
    resent = torch.zeros_like(labels, dtype=torch.bool)
    resent[:, 1:] = labels[:, 1:] != -100
    inputs = torch.where(resent[..., None], torch.cat([e[:, :1], h0[:, :-1]], 1), e)
    s = student(inputs_embeds=inputs, attention_mask=mask, output_hidden_states=True)
    h = s.hidden_states[-1][:, :-1]
    lam, total = weights.lam, 0.0
    if weights.cosine and lam:
        total = total + lam * weights.cosine * losses.cosine_embedding(h, target, pair_mask)
    if weights.embed_mse and lam:
        total = total + lam * weights.embed_mse * losses.embedding_mse(h, target, pair_mask)
    if weights.ce and lam < 1:
        total = total + (1 - lam) * weights.ce * losses.token_cross_entropy(s.logits, labels)
    return total if isinstance(total, torch.Tensor) else h.sum() * 0
