"""``privformers bench transport``: both transports measured between two processes, as JSON."""

from __future__ import annotations

import json

import pytest

from privformers.cli import main


@pytest.mark.slow   # two peer processes (torch imports): about 40 s on the loaded 2-core machine
def test_bench_transport_json(capsys):
    code = main(["bench", "transport", "--sizes", "8,70000", "--seconds", "0.05", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = {(r["transport"], r["bytes"]): r for r in out["rows"]}
    assert set(rows) == {("tls", 8), ("tls", 70000), ("tcp", 8), ("tcp", 70000)}
    assert all(r["round_trip_us_median"] > 0 and r["round_trips"] >= 5 for r in rows.values())
