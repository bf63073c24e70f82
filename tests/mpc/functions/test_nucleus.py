"""Top-p keep bits on sorted secret logits: Hugging Face's kept set, away from the boundary."""

import torch
from transformers import TopPLogitsWarper

from privformers.mpc.functions.nucleus import top_p_keep
from tests.mpc.helpers import run_on_secret


def _hf_keep(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    return ~torch.isinf(TopPLogitsWarper(top_p)(None, (logits / temperature).float()))


def _masses_before(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    probs = torch.softmax(logits / temperature, -1)
    return probs.cumsum(-1) - probs


def test_top_p_keep_matches_hugging_face():
    g = torch.Generator().manual_seed(0)
    logits = (torch.randn(300, 12, generator=g, dtype=torch.float64) * 2).sort(-1, descending=True).values
    for temperature, top_p in ((1.0, 0.8), (0.6, 0.9), (2.0, 0.5), (0.05, 0.95)):
        out, _ = run_on_secret(lambda a, t=temperature, p=top_p: top_p_keep(a, t, p, 40), logits)
        keep = torch.round(out * 2**16).long().bool()
        expect = _hf_keep(logits, temperature, top_p)
        clear = (_masses_before(logits, temperature) - top_p).abs() > 1e-3     # away from the boundary
        assert torch.equal(keep[clear], expect[clear])
        assert keep[:, 0].all()
        assert (keep[:, 1:] <= keep[:, :-1]).all()                              # a prefix


def test_top_p_keep_with_extreme_spreads():
    """Differences far beyond exp's domain (-500) after 1/T: clamped, not garbage."""
    logits = torch.tensor([[10.0, 9.9, -3000.0, -9000.0], [0.0, -0.01, -0.02, -800.0]], dtype=torch.float64)
    out, _ = run_on_secret(lambda a: top_p_keep(a, 0.01, 0.9, 40), logits)
    keep = torch.round(out * 2**16).long()
    assert keep.tolist() == _hf_keep(logits, 0.01, 0.9).long().tolist()
