"""BLEU of greedy generations for table-to-text: one hypothesis per meaning representation,
scored with sacrebleu against all references of that MR (E2E style multi-reference)."""

from __future__ import annotations

from collections import defaultdict

import torch
from tqdm import tqdm


def group_references(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """References by meaning representation, in first-seen order."""
    refs: dict[str, list[str]] = defaultdict(list)
    for mr, ref in pairs:
        refs[mr].append(ref)
    return dict(refs)


@torch.no_grad()
def generate(model, tokenizer, mrs: list[str], max_new_tokens: int = 40) -> list[str]:
    """Greedy continuation of ``mr<eos>`` (the training prompt) for each MR, cut at the next eos."""
    model.eval()
    outputs = []
    for mr in tqdm(mrs, desc="generate", leave=False):
        prompt = tokenizer(mr + tokenizer.eos_token, return_tensors="pt")
        ids = model.generate(**prompt, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        new_tokens = ids[0, prompt["input_ids"].shape[1]:]
        outputs.append(tokenizer.decode(new_tokens, skip_special_tokens=True).strip())
    model.train()
    return outputs


def corpus_bleu(hypotheses: list[str], references: list[list[str]]) -> float:
    """sacrebleu corpus BLEU with a variable number of references per hypothesis."""
    import sacrebleu

    width = max(len(r) for r in references)
    streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(width)]
    return float(sacrebleu.corpus_bleu(hypotheses, streams).score)
