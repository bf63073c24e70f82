"""Greedy generation after the separator: the boundary where plaintext and secure runtimes plug in."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from tqdm import tqdm

from privformers.kv_cache import cache_kwargs, returned_cache
from privformers.lm.delex import Delexicaliser, absent_placeholder_ids, load_delex, relexicalise
from privformers.lm.model import context_length
from privformers.lm.prompt import format_prompt


@torch.no_grad()
def greedy_continue(model, prompt_ids: list[int], eos_token_id: int, max_new_tokens: int,
                    suppress: Sequence[int] = ()) -> list[int]:
    """Greedy decode one prompt with the KV cache; return the new token ids without the EOS; the ids in
    ``suppress`` are never chosen. A model converted by an approximation recipe decodes as the MPC runtime
    does (``plain_greedy``: Embedding Resending, or full recompute), within its context."""
    from privformers.approx.convert import recipe_of

    if recipe_of(model) is not None:
        from privformers.models.plain import plain_greedy

        context = context_length(model.config) or len(prompt_ids) + max_new_tokens
        tokens = plain_greedy(model, prompt_ids, min(max_new_tokens, context - len(prompt_ids)), eos_token_id,
                              suppress)[0]
        return tokens[:tokens.index(eos_token_id)] if eos_token_id in tokens else tokens
    input_ids = torch.tensor([prompt_ids])
    past = None
    new_ids: list[int] = []
    limit = context_length(model.config)
    for _ in range(max_new_tokens):
        if limit is not None and len(prompt_ids) + len(new_ids) >= limit:
            break
        out = model(input_ids=input_ids, **cache_kwargs(model, past), use_cache=True)
        past = returned_cache(out)
        logits = out.logits[0, -1]
        if suppress:
            logits = logits.index_fill(0, torch.tensor(list(suppress)), float("-inf"))
        next_id = int(logits.argmax())
        if next_id == eos_token_id:
            break
        new_ids.append(next_id)
        input_ids = torch.tensor([[next_id]])
    return new_ids


def generate_texts(
    model,
    tokenizer,
    sources: Sequence[str],
    max_new_tokens: int = 96,
    progress: bool = True,
    delex: Delexicaliser | None = None,
) -> list[str]:
    """Greedy-generate one text per linearised source with a causal LM trained on ``format_prompt``.

    A model trained delexicalised gets placeholders for its delexicalised slots and its text gets the
    values back (``delex``; by default what the tokenizer's model folder records, see ``load_delex``); it
    never writes the placeholder of a slot its source lacks (``absent_placeholder_ids``)."""
    model.eval()
    delex = delex if delex is not None else load_delex(getattr(tokenizer, "name_or_path", None))
    texts = []
    for source in tqdm(sources, desc="generating", unit="src", disable=not progress):
        mapping: dict[str, str] = {}
        banned: list[int] = []
        if delex is not None:
            prompt = delex.prompt(source)
            source, mapping = prompt.text, prompt.mapping
            banned = absent_placeholder_ids(delex, tokenizer, [mapping])[0]
        prompt_ids = tokenizer(format_prompt(source), add_special_tokens=False)["input_ids"]
        new_ids = greedy_continue(model, prompt_ids, tokenizer.eos_token_id, max_new_tokens, banned)
        texts.append(relexicalise(tokenizer.decode(new_ids, skip_special_tokens=True).strip(), mapping))
    return texts
