"""``privformers bench batch``: what a padded batch saves per prompt against running each prompt alone.

Prompts of different lengths share one padded pass (their lengths secret); each step's rounds are
then paid once for the whole batch, while the bytes grow with the rows and the padding. The
benchmark runs the batch once, then every prompt alone, all as three local processes over TLS, and
reports each prompt's share of the batch's decode cost (rounds, bytes, seconds per token) against
its cost alone, and the ratios.
"""

from __future__ import annotations

import os
import platform
import statistics
from datetime import datetime, timezone
from pathlib import Path

# E2E-style meaning representations of different lengths (built in: the package needs no data set)
MRS = ("name[The Eagle], food[French] =",
       "name[Zizzi], eatType[pub], area[riverside], customerRating[high] =",
       "name[Aromi], eatType[coffee shop] =",
       "name[The Punter], eatType[restaurant], food[Italian], priceRange[cheap], area[city centre], "
       "familyFriendly[yes], near[Rainbow Vegetarian Café] =",
       "name[Cotto], area[riverside], near[The Portland Arms] =",
       "name[Fitzbillies], food[English], priceRange[moderate], customerRating[3 out of 5] =",
       "name[Bibimbap House], food[Chinese], area[city centre], near[Clare Hall], priceRange[less than £20] =",
       "name[Alimentum] =")


def _decode(per_token: list[dict], rows: int) -> dict:
    """Mean per decode step (the first step, with the prefill, left out), divided over the rows."""
    steps = per_token[1:] or per_token
    return {k: sum(r[k] for r in steps) / len(steps) / rows for k in ("seconds", "online_bytes", "rounds")}


def run_batch_bench(model: str | Path, prompts: list[str], new_tokens: int, timeout: float = 3600.0) -> dict:
    """The batch once, then each prompt alone; per-prompt decode costs and their ratios."""
    from transformers import GenerationConfig

    from privformers.generation.api import MpcOptions, generate
    from privformers.generation.parties import LocalProcesses

    config = GenerationConfig(max_new_tokens=new_tokens, eos_token_id=[])   # every step runs; nothing is cut
    parties = LocalProcesses(timeout=timeout)
    batch = generate(model, prompts, config, parties=parties, options=MpcOptions(batch_size=len(prompts)))
    (rows, width), = [(p["rows"], p["width"]) for p in batch.cost["passes"]]
    shared = _decode(batch.cost["passes"][0]["per_token"], rows)
    alone = []
    for prompt in prompts:
        single = generate(model, prompt, config, parties=parties)
        alone.append({"prompt_len": single.cost["passes"][0]["width"],
                      **_decode(single.cost["per_token"], 1), "tokens_equal": single.token_ids[0] == batch.token_ids[
                          len(alone)]})
    mean_alone = {k: statistics.mean(a[k] for a in alone) for k in ("seconds", "online_bytes", "rounds")}
    return {"batch": {"rows": rows, "padded_width": width, "per_prompt_decode": shared,
                      "decode_per_step": {k: v * rows for k, v in shared.items()}},
            "alone": {"per_prompt": alone, "mean_decode": mean_alone},
            "ratio_per_prompt": {k: shared[k] / mean_alone[k] for k in shared},
            "tokens_equal": all(a["tokens_equal"] for a in alone),
            "meta": {"model": str(model), "new_tokens": new_tokens, "parties": "processes", "transport": "tls1.3",
                     "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
                     "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
