"""Train a small GPT-2 on a data-to-text set split by source; keep the best-validation-BLEU checkpoint."""

from __future__ import annotations

import copy
import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch
from tqdm import tqdm

from privformers.data import group_references, read_pairs, split_by_source
from privformers.lm.batches import collate, encode_pair
from privformers.lm.config import TrainConfig
from privformers.lm.generate import generate_texts
from privformers.lm.model import build_gpt2
from privformers.lm.prompt import format_prompt, format_target
from privformers.lm.tokenizer import train_bpe_tokenizer
from privformers.metrics import corpus_bleu


def learning_rate_at(step: int, total: int, config: TrainConfig) -> float:
    """Linear warm-up then cosine decay to 10% of the peak learning rate."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def validation_bleu(model, tokenizer, groups: list[tuple[str, list[str]]], max_new_tokens: int) -> float:
    """Greedy-decode every validation source and score it against all its references."""
    hypotheses = generate_texts(model, tokenizer, [s for s, _ in groups], max_new_tokens, progress=False)
    return corpus_bleu(hypotheses, [refs for _, refs in groups])


def train_lm(config: TrainConfig) -> dict:
    """Train, select by validation BLEU, save model + tokenizer + ``training_args.json`` in ``config.out``."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    splits = split_by_source(
        read_pairs(config.task, config.data),
        config.validation_fraction,
        config.test_fraction,
        config.split_seed,
    )
    train_pairs, validation_groups = splits["train"], group_references(splits["validation"])
    print(
        f"train pairs {len(train_pairs)} over {len(group_references(train_pairs))} sources; "
        f"validation sources {len(validation_groups)}; test sources {len(group_references(splits['test']))}"
    )

    texts = [format_prompt(p.source) + format_target(p.target) for p in train_pairs]
    tokenizer = train_bpe_tokenizer(texts, config.vocab_size)
    encoded = [encode_pair(tokenizer, p, config.shape.n_positions) for p in train_pairs]
    longest = max(
        len(p[0]) + len(tokenizer(format_target(p[1]))["input_ids"])
        for p in [(tokenizer(format_prompt(x.source))["input_ids"], x.target) for x in train_pairs]
    )
    print(f"vocab {len(tokenizer)}; longest example {longest} tokens (context {config.shape.n_positions})")

    model = build_gpt2(config.shape, len(tokenizer), tokenizer.eos_token_id)
    print(f"parameters {sum(p.numel() for p in model.parameters()):,}")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    best = {"bleu": -1.0, "epoch": 0, "state": None}
    history = []
    step, start = 0, time.time()
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = list(range(len(encoded)))
        rng.shuffle(order)
        losses = []
        bar = tqdm(
            range(0, len(order), config.batch_size), desc=f"epoch {epoch}", unit="batch", mininterval=10
        )
        for first in bar:
            batch = collate(
                [encoded[i] for i in order[first : first + config.batch_size]], tokenizer.pad_token_id
            )
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step, total_steps, config)
            loss = model(**batch).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            losses.append(loss.item())
            step += 1
        record = {
            "epoch": epoch,
            "train_loss": sum(losses) / len(losses),
            "elapsed_s": round(time.time() - start),
        }
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            record["validation_bleu"] = validation_bleu(
                model, tokenizer, validation_groups, config.max_new_tokens
            )
            if record["validation_bleu"] > best["bleu"]:
                best = {
                    "bleu": record["validation_bleu"],
                    "epoch": epoch,
                    "state": copy.deepcopy(model.state_dict()),
                }
        history.append(record)
        print(json.dumps(record), flush=True)

    model.load_state_dict(best["state"])
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    summary = {
        "config": asdict(config),
        "best_epoch": best["epoch"],
        "validation_bleu": best["bleu"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "history": history,
    }
    (out / "training_args.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"saved to {out}: best epoch {best['epoch']}, validation BLEU {best['bleu']:.2f}")
    return summary
