"""BERTScore (Zhang et al. 2020): greedy cosine matching of contextual token embeddings, local encoder.

For hypothesis tokens x and reference tokens y (unit-normalised embeddings, special tokens dropped):
P = mean_i max_j x_i.y_j, R = mean_j max_i x_i.y_j, F = 2PR/(P+R). No idf weighting, no baseline
rescaling; with several references the best F counts. The ``bert-score`` package is not required.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModel, AutoTokenizer

from privformers.metrics.references import check_lengths


class BertScorer:
    """Holds a local encoder (``AutoModel`` folder) and scores sentence pairs with BERTScore F1."""

    def __init__(self, model_path: str | Path, layer: int | None = None) -> None:
        """Load encoder and tokenizer from ``model_path``; ``layer`` picks a hidden layer (default last)."""
        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"BERTScore encoder folder not found: {model_path}")
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.model = AutoModel.from_pretrained(model_path).eval()
        self.layer = layer

    @torch.no_grad()
    def embed(self, text: str) -> torch.Tensor:
        """Unit-normalised embeddings of the text's tokens, without special tokens ([CLS], [SEP])."""
        encoded = self.tokenizer(text, return_tensors="pt", truncation=True, return_special_tokens_mask=True)
        special = encoded.pop("special_tokens_mask")[0].bool()
        out = self.model(**encoded, output_hidden_states=self.layer is not None)
        states = out.last_hidden_state if self.layer is None else out.hidden_states[self.layer]
        tokens = states[0][~special]
        return torch.nn.functional.normalize(tokens, dim=-1)

    def precision_recall_f1(self, hypothesis: str, reference: str) -> tuple[float, float, float]:
        """BERTScore P, R, F1 of one hypothesis against one reference."""
        return self.match(self.embed(hypothesis), self.embed(reference))

    @staticmethod
    def match(hypothesis: torch.Tensor, reference: torch.Tensor) -> tuple[float, float, float]:
        """Greedy matching of unit-normalised token embeddings: P, R and F1."""
        sim = hypothesis @ reference.T
        if sim.numel() == 0:
            return 0.0, 0.0, 0.0
        precision = sim.max(dim=1).values.mean().item()
        recall = sim.max(dim=0).values.mean().item()
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return precision, recall, f1

    def corpus_f1(
        self, hypotheses: Sequence[str], references: Sequence[Sequence[str]], progress: bool = True
    ) -> float:
        """Mean over hypotheses of the best BERTScore F1 over its references, on a 0-100 scale."""
        check_lengths(hypotheses, references)
        pairs = tqdm(list(zip(hypotheses, references)), desc="BERTScore", disable=not progress)
        best = []
        for hypothesis, refs in pairs:
            embedded = self.embed(hypothesis)
            best.append(max(self.match(embedded, self.embed(r))[2] for r in refs))
        return 100.0 * sum(best) / len(best)
