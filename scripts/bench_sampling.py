"""Cost of choosing a token from secret logits: greedy_tokens against sampled_tokens, printed as JSON.

    PYTHONPATH=. python scripts/bench_sampling.py [--vocab 50257] [--rows 1] [--bits 48] [--repeats 1]
        [--config T,K,P ...]   (K or P may be "none"; default: the greedy baseline and 0.8,50,0.9)

Each configuration runs on the three local parties (threads) with the same random logits. Per party:
online rounds and bytes sent; the dealer's offline bytes (all correlated material); the client's and the
server's online seconds inside the call (``meter.seconds``) and the whole run's wall time (offline included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from privformers.generation.sampling import Sampling, greedy_tokens, sampled_tokens
from privformers.mpc.party import CLIENT, Party
from privformers.mpc.protocols.inputs import share_input
from privformers.mpc.session import run_local


def _config(text: str) -> Sampling:
    t, k, p = text.split(",")
    return Sampling(float(t), None if k == "none" else int(k), None if p == "none" else float(p))


def measure(logits: torch.Tensor, sampling: Sampling | None, bits: int) -> dict:
    """Costs of one call on (rows, vocab) client-held logits; sampling None is greedy_tokens."""

    def program(party: Party, _state):
        x = share_input(party, CLIENT, logits, tuple(logits.shape))
        before = {"rounds": party.meter.total_rounds(party.mode), "bytes": party.meter.total_bytes(party.mode)}
        with party.meter.scope("sampling"):
            out = greedy_tokens(x, bits) if sampling is None else sampled_tokens(x, sampling, bits)
        return out, before

    start = time.perf_counter()
    run = run_local(program, timeout=1800)
    wall = time.perf_counter() - start
    report = {"config": "greedy" if sampling is None else sampling.__dict__, "wall_s": round(wall, 3),
              "offline_bytes_dealer": run.meters["dealer"].total_bytes("offline")}
    for role in ("client", "server"):
        m, (_, before) = run.meters[role], run.results[role]
        report[role] = {"rounds": m.total_rounds("online") - before["rounds"],
                        "online_bytes": m.total_bytes("online") - before["bytes"],
                        "online_s": round(m.seconds.get("sampling", 0.0), 4)}
    report["online_bytes_total"] = report["client"]["online_bytes"] + report["server"]["online_bytes"]
    report["tokens"] = run.results["client"][0]
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=50257)
    ap.add_argument("--rows", type=int, default=1)
    ap.add_argument("--bits", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--config", nargs="*", default=["greedy", "0.8,50,0.9"])
    a = ap.parse_args()
    torch.set_num_threads(1)
    sys.setswitchinterval(2e-4)   # three parties as threads of one process: hand the GIL over sooner
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(a.rows, a.vocab, generator=g, dtype=torch.float64) * 3 - 80   # GPT-2-like offsets
    for text in a.config:
        for _ in range(a.repeats):
            report = measure(logits, None if text == "greedy" else _config(text), a.bits)
            report.update(vocab=a.vocab, rows=a.rows, bits=a.bits)
            print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
