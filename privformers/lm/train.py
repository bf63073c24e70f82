"""Train a small GPT-2 or Llama (``ModelShape.arch``) on a data-to-text set split by source (or by E2E
restaurant name); keep the checkpoint with the best validation BLEU (or BLEU minus slot error rate,
``select``). Optionally delexicalised (``privformers.lm.delex``) and with the training references that
contradict their MR left out (``clean``)."""

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

from privformers.data import TextPair, group_references, read_pairs
from privformers.data.splits import split_pairs
from privformers.lm.batches import collate, encode_pair
from privformers.lm.config import CLEANING, SELECTION, TrainConfig
from privformers.lm.delex import DELEX_FILE, Delexicaliser
from privformers.lm.generate import generate_texts
from privformers.lm.model import build_model
from privformers.lm.prompt import format_prompt, format_target
from privformers.lm.tokenizer import train_bpe_tokenizer
from privformers.metrics import corpus_bleu


def learning_rate_at(step: int, total: int, config: TrainConfig) -> float:
    """Linear warm-up then cosine decay to 10% of the peak learning rate."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, total - config.warmup_steps)
    return config.learning_rate * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def validation_scores(model, tokenizer, groups: list[tuple[str, list[str]]], max_new_tokens: int,
                      delex: Delexicaliser | None = None, task: str = "e2e") -> dict[str, float]:
    """Greedy-decode every validation source; BLEU against all its references (and, for E2E, the slot
    error rate, which is logged, not used to select)."""
    sources = [s for s, _ in groups]
    hypotheses = generate_texts(model, tokenizer, sources, max_new_tokens, progress=False, delex=delex)
    scores = {"validation_bleu": corpus_bleu(hypotheses, [refs for _, refs in groups])}
    if task == "e2e":
        from privformers.metrics.slot_error import slot_error_rate

        scores["validation_ser"] = slot_error_rate(sources, hypotheses)
    return scores


def selection_score(record: dict, select: str) -> float:
    """What picks the kept checkpoint: validation BLEU (``bleu``), or BLEU minus the slot error rate
    (``bleu-ser``, both 0-100): BLEU alone can prefer an early checkpoint that leaves slots out."""
    if select == "bleu":
        return record["validation_bleu"]
    if select == "bleu-ser":
        if "validation_ser" not in record:
            raise ValueError("--select bleu-ser needs the slot error rate, which only E2E data (--task e2e) has")
        return record["validation_bleu"] - record["validation_ser"]
    raise ValueError(f"unknown checkpoint selection {select!r}; choose one of {', '.join(SELECTION)}")


def clean_pairs(pairs: list[TextPair], how: str) -> list[TextPair]:
    """Leave out the E2E references that name another restaurant than their MR's (``other-names``) or
    that have any slot error by ``privformers.metrics.slot_error``'s patterns (``slot-errors``)."""
    if how == "none":
        return list(pairs)
    if how not in CLEANING:
        raise ValueError(f"unknown cleaning {how!r}; choose one of {', '.join(CLEANING)}")
    from privformers.metrics.slot_error import slot_errors

    def keep(pair: TextPair) -> bool:
        errors = slot_errors(pair.source, pair.target)
        return not errors.other_names if how == "other-names" else errors.errors == 0

    return [p for p in pairs if keep(p)]


def delexicalised(pairs: list[TextPair], delex: Delexicaliser | None) -> list[TextPair]:
    """The pairs with their delexicalised slots' values replaced by placeholders, in source and target."""
    if delex is None:
        return list(pairs)
    out = []
    for pair in pairs:
        prompt = delex.prompt(pair.source)
        out.append(TextPair(prompt.text, delex.target(pair.target, prompt.mapping)))
    return out


def train_lm(config: TrainConfig) -> dict:
    """Train, select by validation BLEU, save model + tokenizer + ``training_args.json`` in ``config.out``."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    splits = split_pairs(
        read_pairs(config.task, config.data),
        config.split_by,
        config.validation_fraction,
        config.test_fraction,
        config.split_seed,
    )
    validation_groups = group_references(splits["validation"])
    train_pairs = clean_pairs(splits["train"], config.clean)
    delex = Delexicaliser.for_slots(config.delex) if config.delex else None
    print(
        f"split by {config.split_by}: train pairs {len(train_pairs)} over {len(group_references(train_pairs))} "
        f"sources ({len(splits['train']) - len(train_pairs)} references left out: {config.clean}); "
        f"validation sources {len(validation_groups)}; test sources {len(group_references(splits['test']))}"
    )
    train_pairs = delexicalised(train_pairs, delex)

    texts = [format_prompt(p.source) + format_target(p.target) for p in train_pairs]
    tokenizer = train_bpe_tokenizer(texts, config.vocab_size)
    encoded = [encode_pair(tokenizer, p, config.shape.n_positions) for p in train_pairs]
    longest = max(
        len(p[0]) + len(tokenizer(format_target(p[1]))["input_ids"])
        for p in [(tokenizer(format_prompt(x.source))["input_ids"], x.target) for x in train_pairs]
    )
    print(f"vocab {len(tokenizer)}; longest example {longest} tokens (context {config.shape.n_positions})")

    model = build_model(config.shape, len(tokenizer), tokenizer.eos_token_id)
    print(f"{config.shape.arch}: parameters {sum(p.numel() for p in model.parameters()):,}")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    steps_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    best = {"score": -math.inf, "epoch": 0, "state": None, "bleu": -1.0}
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
            record.update(validation_scores(
                model, tokenizer, validation_groups, config.max_new_tokens, delex, config.task
            ))
            score = selection_score(record, config.select)
            if score > best["score"]:
                best = {
                    "score": score,
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
    if delex is not None:
        delex.save(out)
    else:   # a folder trained over must not keep an earlier model's delexicalisation
        (out / DELEX_FILE).unlink(missing_ok=True)
    summary = {
        "arch": config.shape.arch,
        "training_references": len(train_pairs),
        "config": asdict(config),
        "best_epoch": best["epoch"],
        "validation_bleu": best["bleu"],
        "selected_by": config.select,
        "parameters": sum(p.numel() for p in model.parameters()),
        "history": history,
    }
    (out / "training_args.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"saved to {out}: best epoch {best['epoch']}, validation BLEU {best['bleu']:.2f}")
    return summary
