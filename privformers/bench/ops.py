"""The engine's unit benchmarks: each op on n random secret elements, with its cost and error.

An op benchmark shares a client input, runs the op, and reveals the result to the client,
which compares it with a float64 reference. Costs are measured around the op alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from privformers.mpc.functions import exp, gelu, layer_norm, reciprocal, rsqrt, softmax
from privformers.mpc.meter import diff
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.protocols.beaver import matmul, mul
from privformers.mpc.protocols.compare import ltz
from privformers.mpc.protocols.inputs import reveal_to, share_input
from privformers.mpc.protocols.select import argmax, relu
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.protocols.weights import ServerWeight
from privformers.mpc.session import Program
from privformers.mpc.shares import AShare


@dataclass(frozen=True)
class OpBench:
    """An op to measure: input maker (client tensors), secure op, float64 reference."""

    n: int
    make: Callable[[torch.Generator], list[torch.Tensor]]
    op: Callable[..., AShare]
    ref: Callable[..., torch.Tensor]
    raw_input: bool = False      # share the input as ring integers (no encoding)
    integer_output: bool = False  # the output is an integer (a bit or one-hot), not fixed point
    weight: tuple[int, ...] | None = None  # shape of a server-held weight, if the op uses one
    repeat: int = 1


def _randn(*shape: int, scale: float = 1.0) -> Callable[[torch.Generator], list[torch.Tensor]]:
    return lambda g: [torch.randn(*shape, generator=g, dtype=torch.float64) * scale]


def _uniform(lo: float, hi: float, *shape: int) -> Callable[[torch.Generator], list[torch.Tensor]]:
    return lambda g: [torch.rand(*shape, generator=g, dtype=torch.float64) * (hi - lo) + lo]


def _layernorm_ref(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.layer_norm(x, (x.shape[-1],))


def _trunc_input(g: torch.Generator) -> list[torch.Tensor]:
    x = torch.randn(10_000, generator=g, dtype=torch.float64) * 8
    y = torch.randn(10_000, generator=g, dtype=torch.float64) * 8
    return [torch.round(x * 2**16).long() * torch.round(y * 2**16).long()]


OPS: dict[str, OpBench] = {
    "mul": OpBench(10_000, lambda g: _randn(10_000)(g) + _randn(10_000)(g), mul, torch.mul),
    "matmul": OpBench(128 * 64, lambda g: _randn(128, 64)(g) + _randn(64, 64)(g), matmul, torch.matmul),
    "matmul_fixed_weight": OpBench(768 * 3072, _randn(1, 768), None, None, weight=(768, 3072), repeat=10),
    "trunc": OpBench(10_000, _trunc_input, lambda x: trunc(x), lambda p: p.double() / 2**32, raw_input=True),
    "compare": OpBench(10_000, _randn(10_000, scale=10), lambda x: ltz(x), lambda x: (x < 0).double(),
                       integer_output=True),
    "relu": OpBench(10_000, _randn(10_000, scale=10), relu, torch.relu),
    "exp": OpBench(10_000, _uniform(-30, 0, 10_000), exp, torch.exp),
    "reciprocal": OpBench(10_000, _uniform(1, 1024, 10_000), lambda x: reciprocal(x, 0, 11), torch.reciprocal),
    "rsqrt": OpBench(10_000, _uniform(0.01, 1000, 10_000), lambda x: rsqrt(x, -8, 10), torch.rsqrt),
    "softmax": OpBench(16 * 1024, _uniform(-30, 30, 16, 1024), lambda x: softmax(x, -1),
                       lambda x: torch.softmax(x, -1)),
    "gelu": OpBench(10_000, _uniform(-8, 8, 10_000),
                    gelu, lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))),
    "layernorm": OpBench(32 * 768, _randn(32, 768, scale=3), lambda x: layer_norm(x), _layernorm_ref),
    # one decode step of GPT-2 base: a row of 768, an MLP row of 3072, 12 heads attending over 36 keys
    "layernorm_row": OpBench(768, _randn(1, 768, scale=3), lambda x: layer_norm(x), _layernorm_ref, repeat=20),
    "gelu_row": OpBench(3072, _uniform(-8, 8, 1, 3072), gelu, lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))),
                        repeat=20),
    "softmax_row": OpBench(12 * 36, _uniform(-30, 30, 12, 1, 36), lambda x: softmax(x, -1),
                           lambda x: torch.softmax(x, -1), repeat=20),
    "argmax": OpBench(50_257, _randn(1, 50_257, scale=4), lambda x: argmax(x, -1, bits=48),
                      lambda x: torch.nn.functional.one_hot(x.argmax(-1), x.shape[-1]).double(),
                      integer_output=True),
}


def op_program(name: str, seed: int = 0) -> tuple[Program, dict]:
    """A program measuring one op; the returned dict is filled with the client's report."""
    spec = OPS[name]
    report: dict = {"op": name, "n": spec.n}
    g = torch.Generator().manual_seed(seed)
    inputs = spec.make(g)
    weight = torch.randn(*spec.weight, generator=g, dtype=torch.float64) * 0.05 if spec.weight else None

    def setup(party: Party):
        if spec.weight is None:
            return None
        return ServerWeight(party, weight if party.role == SERVER else None, spec.weight)

    def run(party: Party, w: ServerWeight | None):
        xs = [share_input(party, CLIENT, x, tuple(x.shape), encode=not spec.raw_input) for x in inputs]
        before = party.meter.snapshot()
        t0 = time.perf_counter()
        for _ in range(spec.repeat):
            out = trunc(w.product(xs[0])) if w is not None else spec.op(*xs)
        seconds = (time.perf_counter() - t0) / spec.repeat
        d = diff(party.meter.snapshot(), before)
        value = reveal_to(out, CLIENT)
        if party.mode != "online":
            return None
        online = sum(v for k, v in d["bytes"].items() if k.startswith("online/")) / spec.repeat
        rounds = sum(v for k, v in d["rounds"].items() if k.startswith("online/")) / spec.repeat
        result = {"online_bytes_per_party": online, "rounds": rounds, "seconds": seconds}
        if party.role == CLIENT:
            if spec.integer_output:
                value = value * (1 << party.fp.frac_bits)
            ref = (inputs[0] @ weight) if w is not None else spec.ref(*inputs)
            result["max_abs_error"] = float((value - ref).abs().max())
        return result

    return Program(run=run, setup=setup), report
