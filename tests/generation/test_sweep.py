"""``privformers bench sweep``: the grid, skipped points (too long, failed run), the JSON and the plots."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from privformers.cli import build_parser, main
from privformers.generation import bench
from privformers.generation.sweep import plot_sweep, run_sweep
from privformers.models.shapes import SIZES
from privformers.mpc.launch import LaunchError

PNG = b"\x89PNG\r\n\x1a\n"
TINY_CONTEXT = SIZES["tiny"]["n_positions"]


def _fake_bench_run(model, prompt: list[int], new_tokens: int, **_options) -> dict:
    """Stands in for the three processes: costs that grow with the prompt; thex fails like an OOM-killed party."""
    if model.recipe == "thex":
        raise LaunchError("server: killed by signal 9 (out of memory?)\nlast line of its log")
    n = len(prompt)
    first = {"seconds": 0.01 * n, "online_bytes": 1000 * n, "rounds": 100}
    return {"tokens": [1] * new_tokens,
            "per_token": [first] + [{"seconds": 0.5, "online_bytes": 2e6, "rounds": 40}] * (new_tokens - 1)}


def _check_plots(paths: list[Path], out: Path) -> None:
    assert [p.name for p in paths] == ["sweep_vs_prompt_len.png", "sweep_vs_size.png"]
    for p in paths:
        assert p.parent == out and p.stat().st_size > 1000 and p.read_bytes()[:8] == PNG


def test_sweep_grid_and_skips(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bench, "bench_run", _fake_bench_run)
    log = io.StringIO()
    result = run_sweep(["tiny"], ["vanilla", "merge", "thex"], [8, TINY_CONTEXT], new_tokens=3, log=log)
    points = result["points"]
    assert [(p["method"], p["prompt_len"]) for p in points] == [("vanilla", 8), ("merge", 8)]
    assert points[0]["decode_seconds"] == 0.5 and points[0]["decode_online_bytes"] == 2e6
    assert points[0]["decode_rounds"] == 40 and points[0]["first_token_seconds"] == 0.08
    assert points[0]["params"] < points[1]["params"]  # the Merge Module adds weights
    reasons = {(s["method"], s["prompt_len"]): s["skipped"] for s in result["skipped"]}
    assert reasons["thex", 8] == "LaunchError: server: killed by signal 9 (out of memory?)"
    assert all("context" in reasons[m, TINY_CONTEXT] for m in ("vanilla", "merge", "thex"))
    assert result["meta"]["new_tokens"] == 3 and result["meta"]["transport"] == "tls1.3"
    lines = log.getvalue().splitlines()
    assert len(lines) == 6 and lines[0] == "[sweep] size=tiny method=vanilla prompt_len=8: 0.5 s/token, 2 MB, 40 rounds"
    assert "skipped: LaunchError" in lines[2]
    _check_plots(plot_sweep(result, tmp_path), tmp_path)
    json.dumps(result)  # plain JSON data


def test_plots_without_points(tmp_path: Path) -> None:
    empty = {"points": [], "skipped": [{"size": "tiny", "method": "merge", "prompt_len": 99, "skipped": "x"}]}
    _check_plots(plot_sweep(empty, tmp_path), tmp_path)


def test_plots_without_matplotlib_say_which_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib is an optional extra (``plots``): without it the error says how to get it."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'privformers\[plots\]'"):
        plot_sweep({"points": [], "skipped": []}, tmp_path)


def test_cli_parses_lists() -> None:
    a = build_parser().parse_args(["bench", "sweep", "--random-weights", "--methods", "vanilla,merge-er",
                                   "--sizes", "tiny,base", "--prompt-lens", "4,8"])
    assert (a.methods, a.sizes, a.prompt_lens, a.new_tokens) == (["vanilla", "merge-er"], ["tiny", "base"], [4, 8], 2)
    for bad in (["--methods", "vanilla,nope"], ["--sizes", "huge"], ["--prompt-lens", "8,x"], ["--prompt-lens", "0"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["bench", "sweep", "--random-weights", *bad])


def test_cli_writes_json_and_plots(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                   capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(bench, "bench_run", _fake_bench_run)
    code = main(["bench", "sweep", "--random-weights", "--methods", "vanilla", "--prompt-lens", "4,80",
                 "--out", str(tmp_path), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(out["points"]) == 1 and out["skipped"][0]["prompt_len"] == 80
    assert json.loads((tmp_path / "sweep.json").read_text()) == out
    _check_plots([tmp_path / "sweep_vs_prompt_len.png", tmp_path / "sweep_vs_size.png"], tmp_path)
    assert main(["bench", "sweep", "--random-weights", "--prompt-lens", "500", "--json"]) == 1  # all skipped


@pytest.mark.slow   # a real private generation per point; the other sweep tests cover the grid with a stand-in
def test_cli_one_real_point(capsys: pytest.CaptureFixture) -> None:
    """One point the real way: three TLS processes, one-layer tiny GPT-2."""
    code = main(["bench", "sweep", "--random-weights", "--methods", "merge", "--prompt-lens", "8", "--layers", "1",
                 "--timeout", "300", "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 0 and not out["skipped"] and out["meta"]["layers"] == 1
    p = out["points"][0]
    assert (p["size"], p["method"], p["prompt_len"], p["new_tokens"]) == ("tiny", "merge", 8, 2)
    assert p["decode_seconds"] > 0 and p["decode_online_bytes"] > 0 and p["decode_rounds"] > 0 and p["params"] > 0
    assert "[sweep] size=tiny method=merge prompt_len=8: " in captured.err


@pytest.mark.slow
def test_tiny_sweep_processes(tmp_path: Path) -> None:
    """The real grid (about 90 s on two loaded cores): three TLS processes per point, one-layer tiny GPT-2."""
    result = run_sweep(["tiny"], ["vanilla", "merge"], [8, 16, TINY_CONTEXT], new_tokens=2, layers=1,
                       timeout=300.0)
    assert [(p["method"], p["prompt_len"]) for p in result["points"]] == [
        ("vanilla", 8), ("merge", 8), ("vanilla", 16), ("merge", 16)]
    for p in result["points"]:
        assert p["decode_seconds"] > 0 and p["decode_online_bytes"] > 0 and p["decode_rounds"] > 0
        assert p["first_token_online_bytes"] > p["decode_online_bytes"]  # the prefill
    assert [s["prompt_len"] for s in result["skipped"]] == [TINY_CONTEXT] * 2
    assert all("context" in s["skipped"] for s in result["skipped"])
    _check_plots(plot_sweep(result, tmp_path), tmp_path)


def test_merge_points_get_matrices_as_long_as_the_prompt() -> None:
    """A merge point beyond the default 128 positions is run with a recipe whose Merge Module is long
    enough (passed to the parties as the recipe's dict), instead of being skipped."""
    from privformers.approx.recipes import get_recipe
    from privformers.generation.bench import random_bench_model
    from privformers.models.load import from_args
    from privformers.models.spec import PromptTooLongError

    with pytest.raises(PromptTooLongError):
        random_bench_model("tiny", 0, "merge", {"n_positions": 512}, 200, 2)
    recipe = get_recipe("merge", merge_max_len=202).to_dict()
    model, prompt = random_bench_model("tiny", 0, recipe, {"n_positions": 512}, 200, 2)
    assert model.spec().recipe.merge_max_len == 202 and from_args(model.args()).recipe == model.spec().recipe
    assert len(prompt) == 200


def test_cli_combines_sweeps_of_the_same_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    """Two runs (different sizes and lengths) make one table and its plots; runs of other settings,
    a point measured twice, a missing file and no --random-weights are refused with a clear error."""
    monkeypatch.setattr(bench, "bench_run", _fake_bench_run)
    a, b, both = tmp_path / "a", tmp_path / "b", tmp_path / "both"
    assert main(["bench", "sweep", "--random-weights", "--methods", "vanilla,merge", "--prompt-lens", "4,8",
                 "--out", str(a), "--json"]) == 0
    assert main(["bench", "sweep", "--random-weights", "--methods", "merge", "--sizes", "small", "--prompt-lens", "4",
                 "--out", str(b), "--json"]) == 0
    capsys.readouterr()
    with_skip = json.loads((b / "sweep.json").read_text())   # a run that could not measure ("small", "vanilla", 4)
    with_skip["skipped"] = [{"size": "small", "method": "vanilla", "prompt_len": 4, "skipped": "killed"},
                            {"size": "tiny", "method": "merge", "prompt_len": 8, "skipped": "killed"}]
    (b / "sweep.json").write_text(json.dumps(with_skip))
    assert main(["bench", "sweep", "--combine", str(a / "sweep.json"), str(b / "sweep.json"), "--out", str(both),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(p["size"], p["method"], p["prompt_len"]) for p in out["points"]] == [
        ("tiny", "vanilla", 4), ("tiny", "merge", 4), ("tiny", "vanilla", 8), ("tiny", "merge", 8),
        ("small", "merge", 4)]
    assert out["meta"]["grid"] == {"sizes": ["tiny", "small"], "methods": ["vanilla", "merge"], "prompt_lens": [4, 8]}
    assert out["meta"]["combined_from"] == 2 and len(out["meta"]["date"]) == 2
    assert [s["method"] for s in out["skipped"]] == ["vanilla"]   # tiny merge 8 was measured in the first run
    assert json.loads((both / "sweep.json").read_text()) == out
    _check_plots([both / "sweep_vs_prompt_len.png", both / "sweep_vs_size.png"], both)

    other = json.loads((b / "sweep.json").read_text())
    other["meta"]["new_tokens"] = 5
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert main(["bench", "sweep", "--combine", str(a / "sweep.json"), str(tmp_path / "other.json")]) == 2
    assert "differ in new_tokens" in capsys.readouterr().err
    assert main(["bench", "sweep", "--combine", str(a / "sweep.json"), str(a / "sweep.json")]) == 2
    assert "more than one sweep" in capsys.readouterr().err
    assert main(["bench", "sweep", "--combine", str(tmp_path / "missing.json")]) == 2
    assert "cannot combine" in capsys.readouterr().err
    assert main(["bench", "sweep", "--methods", "vanilla"]) == 2
    assert "needs --random-weights" in capsys.readouterr().err


def test_streamed_points_are_drawn_apart_on_the_time_panel() -> None:
    """A point run with streamed material is a hollow marker off the method's time line (its seconds
    include waiting for material), but sits on the bytes line like any other point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from privformers.generation.sweep import ROWS, _panel

    def point(n: int, streamed: bool) -> dict:
        return {"size": "base", "method": "vanilla", "prompt_len": n, "decode_seconds": 1.0 + n / 100,
                "decode_online_bytes": 1e6 * n, "material_mb": 1024.0 if streamed else None}

    result = {"points": [point(64, False), point(128, False), point(256, True)]}
    fig, (top, bottom) = plt.subplots(2)
    _panel(top, result, "prompt_len", {"size": "base"}, ROWS[0])
    _panel(bottom, result, "prompt_len", {"size": "base"}, ROWS[1])
    lines = {ln.get_label(): ln for ln in top.lines}
    assert list(lines["vanilla"].get_xdata()) == [64, 128]
    apart = lines["vanilla, streamed material (waits for it)"]
    assert list(apart.get_xdata()) == [256] and apart.get_markerfacecolor() == "none"
    assert [list(ln.get_xdata()) for ln in bottom.lines] == [[64, 128, 256]]
    plt.close(fig)
