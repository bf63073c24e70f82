"""`privformers bench ops` prints one JSON object per op with the required keys."""

import json

import pytest

from privformers.cli import main

KEYS = {"op", "n", "rounds", "online_bytes_per_party", "offline_bytes", "seconds", "max_abs_error"}


@pytest.mark.slow   # three party processes over TLS for every op: about 40 s
def test_bench_ops_json_separate_processes(capsys):
    assert main(["bench", "ops", "--ops", "mul,compare", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["op"] for r in rows] == ["mul", "compare"]
    for r in rows:
        assert KEYS <= set(r) and r["parties"] == "processes"
    assert rows[1]["rounds"] == 1 and rows[1]["online_bytes_per_party"] == 8 * rows[1]["n"]
    assert rows[0]["max_abs_error"] < 1e-3 and rows[1]["max_abs_error"] == 0


def test_bench_ops_rejects_unknown_op(capsys):
    assert main(["bench", "ops", "--ops", "nope", "--parties", "threads"]) == 2
    assert "unknown op" in capsys.readouterr().err
