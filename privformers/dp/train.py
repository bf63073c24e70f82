"""The dp-train loop: Poisson-sampled logical batches, physical batches, private steps, checkpoints.

Also trains non-privately (``--non-private``) with the same step budget and batch size, as the
baseline the utility numbers are compared with.

Under a launcher (``--nproc N`` starts ``torchrun``; or ``torchrun``/``accelerate launch`` directly)
every rank loads the data and the model, takes its share of each logical batch (one Poisson mask
agreed by all ranks), and the engine sums the ranks' clipped sums with one noise draw per coordinate;
``--batch-size`` stays the logical (expected) batch. Rank 0 alone evaluates, reports and saves.
The non-private baseline runs under torch's DistributedDataParallel.
"""

from __future__ import annotations

import contextlib
import math
import random
import re
from pathlib import Path

import torch
from tqdm import tqdm

from privformers.dp import datasets, distributed, losses
from privformers.dp.config import DPTrainConfig
from privformers.dp.ema import ParameterEMA
from privformers.dp.engine import PrivacyEngine
from privformers.dp.sampling import DistributedPoissonSampler, PoissonBatchSampler, physical_batches
from privformers.jsonout import strict_json

ACCOUNTANT_NOTE = "rdp: per-order RDP from prv-accountant, converted by dp-accounting; pld: dp-accounting"


NO_GUARANTEE = ("none: no accountant gives a finite epsilon, so no (epsilon, delta) guarantee holds (a noise "
                "multiplier of 0 adds no noise; clipping alone is not private); eps_* are null")


def privacy_claim(spent: dict) -> tuple[dict, bool]:
    """``engine.get_privacy_spent``'s report made honest and strict JSON, and whether the run is private.

    A run is private only when every accountant gives a finite epsilon. An infinite epsilon (noise
    multiplier 0) is written as null with a ``privacy`` line saying why: ``json.dumps`` would write the
    non-standard ``Infinity``, which strict JSON parsers refuse."""
    eps = {k: v for k, v in spent.items() if k.startswith("eps_")}
    if all(math.isfinite(v) for v in eps.values()):
        return spent, True
    return {**spent, **{k: None for k in eps}, "privacy": NO_GUARANTEE}, False


def load_tokenizer(path: str):
    """AutoTokenizer from ``path``, or GPT-2 BPE from a folder with only vocab.json and merges.txt."""
    from transformers import AutoTokenizer, GPT2Tokenizer

    folder = Path(path)
    if (folder / "vocab.json").exists() and (folder / "merges.txt").exists() \
            and not (folder / "tokenizer_config.json").exists():
        tokenizer = GPT2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    else:
        tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(args: DPTrainConfig, num_labels: int | None):
    """The model to fine-tune: pretrained weights, or random weights from the config (``--random-init``)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    auto = AutoModelForSequenceClassification if args.task == "classification" else AutoModelForCausalLM
    kwargs = {"num_labels": num_labels} if num_labels else {}
    if args.random_init:
        return auto.from_config(AutoConfig.from_pretrained(args.model, **kwargs))
    return auto.from_pretrained(args.model, **kwargs)


def load_examples(args: DPTrainConfig, tokenizer, path: str) -> list[dict]:
    """Tokenised examples of ``path`` for the task (lm: the ``train-lm`` format ``source = target<eos>``)."""
    if args.task == "classification":
        texts, labels = datasets.read_classification_tsv(path)
        return datasets.encode_classification(tokenizer, texts, labels, args.max_length)
    from privformers.data import read_pairs

    return datasets.encode_pairs(tokenizer, read_pairs(args.lm_data_task, path), args.max_length)


@torch.no_grad()
def evaluate(model, examples: list[dict], collate, batch_size: int, task: str,
             device: torch.device | None = None) -> dict:
    """Accuracy (classification) or mean per-token loss (lm) on ``examples``."""
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    for i in range(0, len(examples), batch_size):
        batch = _to(collate(examples[i:i + batch_size]), device)
        labels = batch.pop("labels")
        logits = model(**batch).logits
        if task == "classification":
            correct += (logits.argmax(-1) == labels).sum().item()
        else:
            loss_sum += losses.lm_loss(logits, labels).sum().item()
        total += len(labels)
    model.train()
    return {"accuracy": correct / total} if task == "classification" else {"loss": loss_sum / total}


def _to(batch: dict, device: torch.device | None) -> dict:
    return batch if device is None else {k: v.to(device) for k, v in batch.items()}


def table_to_text_bleu(model, tokenizer, path: str, task: str, count: int) -> dict:
    """Multi-reference BLEU of greedy generations for the first ``count`` sources of ``path``."""
    from privformers.data import group_references, read_pairs
    from privformers.lm.generate import generate_texts
    from privformers.metrics import corpus_bleu

    groups = group_references(read_pairs(task, path))[:count]
    hypotheses = generate_texts(model, tokenizer, [source for source, _ in groups], progress=False)
    model.train()
    return {"bleu": corpus_bleu(hypotheses, [refs for _, refs in groups]), "bleu_sources": len(groups),
            "sample_generation": hypotheses[0]}


def freeze_all_but(model, pattern: str) -> None:
    """Train only parameters whose name matches the regular expression ``pattern`` (re.search)."""
    regex = re.compile(pattern)
    names = [n for n, p in model.named_parameters() if p.requires_grad and regex.search(n)]
    if not names:
        raise ValueError(f"--trainable {pattern!r} matches no trainable parameter of the model")
    for name, param in model.named_parameters():
        if name not in names:
            param.requires_grad_(False)


def lr_schedule(optimizer: torch.optim.Optimizer, kind: str, steps: int,
                warmup: int) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-step learning-rate factor: constant, or linear warm-up over ``warmup`` steps then linear decay to 0."""
    if warmup < 0 or (warmup and warmup >= steps):
        raise ValueError(f"warmup steps must be in [0, steps), got {warmup} for {steps} steps")
    if kind == "constant":
        factor = (lambda step: min(1.0, (step + 1) / warmup)) if warmup else (lambda step: 1.0)
    elif kind == "linear":
        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return max(0.0, (steps - step) / (steps - warmup))
    else:
        raise ValueError(f"unknown learning-rate schedule {kind!r}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def save_checkpoint(model, tokenizer, folder: Path, report: dict) -> None:
    """``save_pretrained`` weights (LoRA adapters merged in) and tokenizer plus ``privacy_report.json``."""
    from privformers.dp.lora import merged

    folder.mkdir(parents=True, exist_ok=True)
    merged(model).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "privacy_report.json").write_text(strict_json(report, indent=1))


def train(args: DPTrainConfig) -> dict | None:
    """Run dp-train as ``args`` says; return the final report (None on ranks other than 0)."""
    torch.set_num_threads(args.threads)
    if distributed.launched_world() == 1:
        return _train(args, torch.device("cpu"))
    device = distributed.init_from_env()
    try:
        return _train(args, device)
    finally:
        torch.distributed.destroy_process_group()


def _train(args: DPTrainConfig, device: torch.device) -> dict | None:
    rank, world = distributed.rank_and_world()
    tokenizer = load_tokenizer(args.tokenizer or args.model)
    train_set = load_examples(args, tokenizer, args.data)
    if args.max_train_examples:
        train_set = train_set[:args.max_train_examples]
    eval_set = load_examples(args, tokenizer, args.eval_data) if args.eval_data else []
    if args.max_eval_examples:
        eval_set = eval_set[:args.max_eval_examples]
    eval_set.sort(key=lambda e: len(e["input_ids"]))  # less padding; metrics do not depend on order
    num_labels = len({e["labels"] for e in train_set}) if args.task == "classification" else None
    model = load_model(args, num_labels).train()
    if args.freeze_embeddings:
        for p in model.get_input_embeddings().parameters():
            p.requires_grad_(False)
    if args.trainable:
        freeze_all_but(model, args.trainable)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if args.lora:
        from privformers.dp.lora import DEFAULT_TARGETS, add_lora

        if args.trainable or args.freeze_embeddings:
            raise ValueError("--lora trains only the adapters (and a classification head): drop --trainable "
                             "and --freeze-embeddings")
        model = add_lora(model, args.lora, args.lora_alpha, args.lora_targets or DEFAULT_TARGETS, args.task)
    model.to(device)
    collate = datasets.pad_collate(tokenizer.pad_token_id)
    n = len(train_set)
    steps = args.steps or math.ceil(args.epochs * n / args.batch_size)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0)
    engine, forward = None, model
    if not args.non_private:
        engine = PrivacyEngine(model, batch_size=args.batch_size, sample_size=n, steps=steps,
                               max_grad_norm=args.max_grad_norm, target_epsilon=args.target_epsilon,
                               noise_multiplier=args.noise_multiplier, target_delta=args.target_delta,
                               clipping_mode=args.clipping_mode, accounting_mode=args.accounting_mode)
        engine.attach(optimizer)
        sampler = DistributedPoissonSampler if world > 1 else PoissonBatchSampler
        batches = sampler(n, args.batch_size / n, steps)
    else:
        rng = random.Random(args.seed)  # the same batches on every rank, each taking its share
        batches = [rng.sample(range(n), args.batch_size)[rank::world] for _ in range(steps)]
        if world > 1:
            forward = torch.nn.parallel.DistributedDataParallel(model)
    # after attach: the schedule wraps the private step
    schedule = lr_schedule(optimizer, args.lr_schedule, steps, args.warmup_steps)
    ema = ParameterEMA(trainable, args.ema) if args.ema else None
    out = Path(args.output_dir)
    history = []

    def report(step: int) -> dict:
        r = {"step": step, "task": args.task, "model": args.model, "private": engine is not None,
             "trainable_parameters": sum(p.numel() for p in trainable), "processes": world}
        if engine is not None:
            spent, r["private"] = privacy_claim(engine.get_privacy_spent(step, "all"))
            r.update(spent, accountant=ACCOUNTANT_NOTE, training=engine.get_training_stats())
        if eval_set and ema is not None:
            r["eval_last_iterate"] = evaluate(model, eval_set, collate, args.eval_batch_size, args.task, device)
            r["ema_decay"] = ema.decay
        if eval_set:  # "eval" scores what the checkpoint holds: the average with --ema
            with ema.applied() if ema is not None else contextlib.nullcontext():
                r["eval"] = evaluate(model, eval_set, collate, args.eval_batch_size, args.task, device)
                if args.task == "lm" and args.bleu_mrs and step == steps:
                    r["eval"].update(table_to_text_bleu(model, tokenizer, args.eval_data, args.lm_data_task,
                                                          args.bleu_mrs))
        return r

    bar = tqdm(batches, total=steps, desc="dp-train" if engine else "train", disable=rank != 0)
    for step, indices in enumerate(bar, start=1):
        # cut the logical batch into physical ones by length, so little padding is computed; the
        # logical batch (what the accountant sees) and its summed gradient are unchanged
        by_length = sorted(indices, key=lambda i: len(train_set[i]["input_ids"]))
        chunks = physical_batches(by_length, args.max_physical_batch_size)
        if engine is not None and not chunks:
            optimizer.step()  # empty Poisson batch: noise only
        for k, chunk in enumerate(chunks):
            batch = _to(collate([train_set[i] for i in chunk]), device)
            labels = batch.pop("labels")
            last = k == len(chunks) - 1
            with contextlib.nullcontext() if last or forward is model else forward.no_sync():
                loss = losses.per_example_loss(forward(**batch).logits, labels)
                if engine is None:  # DDP averages over ranks: scale so that the mean is sum / batch
                    (loss.sum() * world / args.batch_size).backward()
            if engine is None:
                if last:
                    optimizer.step()
            elif last:
                optimizer.step(loss=loss)
            else:
                optimizer.virtual_step(loss=loss)
            bar.set_postfix(loss=f"{loss.mean().item():.3f}")
        optimizer.zero_grad(set_to_none=True)
        schedule.step()
        if ema is not None:
            ema.update()
        if rank != 0:
            continue  # reports and checkpoints come from rank 0; the others go on to the next all-reduce
        if step % args.log_every == 0 or step == steps:
            r = report(step)
            history.append(r)
            tqdm.write(strict_json({k: v for k, v in r.items() if k != "training"}))
        if args.save_every and step % args.save_every == 0:
            latest = history[-1] if history and history[-1]["step"] == step else report(step)
            save_weights(model, tokenizer, out / f"checkpoint-{step}", latest, ema)
    if rank != 0:
        return None
    final = history[-1]
    save_weights(model, tokenizer, out / "final", final, ema)
    return final


def save_weights(model, tokenizer, folder: Path, report: dict, ema: ParameterEMA | None) -> None:
    """A checkpoint of the averaged parameters with ``--ema``, else of the last iterate."""
    if ema is None:
        save_checkpoint(model, tokenizer, folder, report)
        return
    with ema.applied():
        save_checkpoint(model, tokenizer, folder, report)
