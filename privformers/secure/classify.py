"""Private text classification: the client's sentences, the server's classifier (a Hugging Face
``...ForSequenceClassification`` folder, or a distilled student of one), all sentences in one
session. ``mpc_classify`` runs it with three local processes; ``plain_classify`` is
the plaintext reference.

Sentences of the same length in tokens share a pass (at most ``batch_size`` of them, unpadded), so
each sentence's length is public (as a prompt's length is in generation) and nothing more: the tokens
and the logits are secret, and only the client learns the logits. Batching amortises each protocol
round and each message over several sentences.
The correlated material is streamed (``material_budget``): a few hundred passes' material would not fit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.session import Program
from privformers.secure.batching import length_batches
from privformers.secure.runtime import secure_program

DEFAULT_MATERIAL_MB = 512
DEFAULT_BATCH = 8


def classify_many_program(factory: Callable[[], torch.nn.Module], weights: Callable[[], dict] | dict,
                          sequences: Sequence[Sequence[int]], material_budget: int = DEFAULT_MATERIAL_MB << 20,
                          progress: bool = False, batch_size: int = DEFAULT_BATCH) -> Program:
    """Secure forward passes over the token sequences, equal lengths batched (``length_batches``); the
    client's result, in input order: per sequence the logits and its share of its pass's online
    seconds, bytes and rounds (the pass's cost over its batch size; ``batch`` says how many shared it)."""
    if not sequences or any(not s for s in sequences):
        raise ValueError("need at least one sequence and no empty one")
    passes = length_batches([len(s) for s in sequences], batch_size)
    loaded: dict[str, dict] = {}

    def server_weights() -> dict:
        if "w" not in loaded:
            loaded["w"] = weights() if callable(weights) else weights
        return loaded["w"]

    def program_for(batch: Sequence[int], weights_now: dict | None) -> Program:
        ids = torch.tensor([list(sequences[i]) for i in batch])
        return secure_program(factory, weights_now, {"input_ids": ids})

    def setup(party: Party) -> torch.nn.Module:
        return program_for(passes[0], server_weights() if party.role == SERVER else None).setup(party)

    def run(party: Party, model: torch.nn.Module) -> list[dict]:
        out: list[dict | None] = [None] * len(sequences)
        online = lambda table: sum(v for k, v in table.items() if k.startswith("online/"))  # noqa: E731
        done = 0
        for batch in passes:
            before, t0 = party.meter.snapshot(), time.perf_counter()
            logits = program_for(batch, None).run(party, model)
            after, n = party.meter.snapshot(), len(batch)
            seconds = time.perf_counter() - t0
            for row, i in enumerate(batch):
                out[i] = {"logits": logits[row].tolist() if logits is not None else None,
                          "seconds": round(seconds / n, 6), "batch": n,
                          "online_bytes": (online(after["bytes"]) - online(before["bytes"])) / n,
                          "rounds": (online(after["rounds"]) - online(before["rounds"])) / n}
            done += n
            if progress and party.role == CLIENT and party.mode == "online":
                print(f"[client] sentence {done}/{len(sequences)} ({seconds:.2f} s for {n} of "
                      f"{len(sequences[batch[0]])} tokens)", file=sys.stderr, flush=True)
        return out

    return Program(run=run, setup=setup, material_budget=material_budget)


def _tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return [tokenizer(t, truncation=True, max_length=max_length)["input_ids"] for t in texts]


def load_classifier(model_path: str | Path) -> tuple[torch.nn.Module, Any]:
    """The plaintext classifier (a student comes back converted by its recipe) and its tokenizer."""
    from transformers import AutoTokenizer

    from privformers.models.load import from_path

    spec = from_path(model_path)
    model = spec.factory()
    model.load_state_dict(spec.weights())
    return model.eval(), AutoTokenizer.from_pretrained(model_path)


@torch.no_grad()
def plain_classify(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int = 128,
                   batch_size: int = 64) -> torch.Tensor:
    """Plaintext logits (N, labels) of texts, batched with padding and attention masks (cut at the
    model's context, as ``mpc_classify`` cuts them)."""
    context = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    max_length = min(max_length, context or max_length)
    rows = []
    for i in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[i:i + batch_size]), padding=True, truncation=True, max_length=max_length,
                          return_tensors="pt")
        rows.append(model(**batch).logits.float())
    return torch.cat(rows)


def mpc_classify(model_path: str | Path, tokenizer: Any, texts: Sequence[str], max_length: int = 128,
                 timeout: float = 7200.0, frac_bits: int = 16, material_mb: float = DEFAULT_MATERIAL_MB,
                 batch_size: int = DEFAULT_BATCH) -> list[dict]:
    """Classify texts under MPC with three local processes over TLS (one session; texts of equal length
    share a pass of at most batch_size): per text, in input order, the logits revealed to the client
    and its share of its pass's online cost."""
    from privformers.models.load import check_weights, from_path
    from privformers.models.spec import public_spec
    from privformers.mpc.launch import LaunchError, launch_local

    spec = from_path(model_path)
    check_weights(model_path)
    if not any(a.endswith("ForSequenceClassification") for a in spec.config.architectures or ()):
        raise ValueError(f"{model_path} is not a sequence classifier (config architectures: "
                         f"{spec.config.architectures})")
    ids = _tokenize(tokenizer, texts, min(max_length, spec.context or max_length))
    args = {**public_spec(spec), "lengths": [len(s) for s in ids],
            "material_mb": material_mb, "progress": True, "batch_size": batch_size}
    try:   # the sentences reach the client process alone, the model folder the server alone
        reports = launch_local("classify-many", args, timeout, frac_bits, follow="[client] sentence",
                               client_args={"sequences": ids}, server_args={"model": str(Path(model_path).resolve())})
    except LaunchError as exc:
        raise RuntimeError(f"private classification failed: {exc}") from None
    return reports["client"]["result"]
