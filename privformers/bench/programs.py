"""The op benchmarks as named programs, so `privformers party` processes can run them."""

from __future__ import annotations

from typing import Any

from privformers.bench.ops import op_program
from privformers.mpc.programs import register_program, to_json
from privformers.mpc.session import Program


def _format(role: str, result: Any) -> dict:
    return {"result": to_json(result)}


@register_program("bench-op", _format)
def bench_op(args: dict) -> Program:
    """One op of `privformers bench ops`; args: {"op": name}."""
    program, _ = op_program(args["op"], int(args.get("seed", 0)))
    return program
