"""``privformers bench sweep``: private generation over methods x model sizes x prompt lengths (MERGE's Figure 4).

Each point is one ``bench generate`` run (three local processes, random weights). A point that does not fit the
model's context, or whose run fails (a party killed for memory, a timeout), is recorded as skipped and the sweep
goes on.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from privformers.generation import bench
from privformers.generation.bench import METHODS

MB = 1e6
ROWS = (("decode_seconds", 1.0, "decode time per token (s)"), ("decode_online_bytes", MB, "decode MB per token"))


def _params(size: str, method: str, seed: int, overrides: dict) -> int:
    """Number of parameters of the random-weight model converted by the method's recipe."""
    from privformers.models.random_weights import random_gpt2

    model = random_gpt2(size, seed, METHODS[method], **overrides).factory()
    return sum(p.numel() for p in model.parameters())


def _mean(rows: list[dict], key: str) -> float:
    """Mean of one column of per-token rows."""
    return sum(r[key] for r in rows) / len(rows)


def run_point(size: str, method: str, prompt_len: int, new_tokens: int, *, layers: int | None = None, seed: int = 0,
              timeout: float = 3600.0, frac_bits: int = 16, insecure: bool = False,
              material_mb: float | None = None) -> dict:
    """One sweep point as ``bench generate`` runs it; {"skipped": reason} when it does not fit or fails.

    material_mb: stream the material at most this many MB ahead (the point records it)."""
    from privformers.approx.recipes import get_recipe
    from privformers.models.spec import PromptTooLongError

    key = {"size": size, "method": method, "prompt_len": prompt_len}
    overrides = {"n_layer": layers} if layers else {}
    recipe = METHODS[method]
    if recipe is not None and get_recipe(recipe).merge:
        # Merge Module matrices as long as the point needs (the default side is 128 positions)
        recipe = get_recipe(recipe, merge_max_len=max(prompt_len + new_tokens, 128)).to_dict()
    try:
        model, prompt = bench.random_bench_model(size, seed, recipe, overrides, prompt_len, new_tokens)
    except PromptTooLongError as exc:
        return {**key, "skipped": f"exceeds the context: {exc}"}
    try:
        out = bench.bench_run(model, prompt, new_tokens, timeout=timeout, frac_bits=frac_bits,
                                       insecure=insecure, material_mb=material_mb)
    except Exception as exc:  # a failed point (e.g. LaunchError: a party killed for memory) must not end the sweep
        lines = str(exc).strip().splitlines()
        return {**key, "skipped": f"{type(exc).__name__}: {lines[0] if lines else '(no message)'}"}
    first, decode = out["per_token"][0], out["per_token"][1:] or out["per_token"]
    return {**key, "new_tokens": new_tokens, "decode_seconds": round(_mean(decode, "seconds"), 6),
            "decode_online_bytes": round(_mean(decode, "online_bytes"), 1),
            "decode_rounds": round(_mean(decode, "rounds"), 2), "first_token_seconds": first["seconds"],
            "first_token_online_bytes": first["online_bytes"], "material_mb": material_mb}


def run_sweep(sizes: Sequence[str], methods: Sequence[str], prompt_lens: Sequence[int], new_tokens: int = 2, *,
              layers: int | None = None, seed: int = 0, timeout: float = 3600.0, frac_bits: int = 16,
              insecure: bool = False, log: TextIO | None = None, material_mb: float | None = None) -> dict:
    """Run every (size, prompt length, method) point; {"points", "skipped", "meta"} with one line per point to log."""
    log = sys.stderr if log is None else log
    overrides = {"n_layer": layers} if layers else {}
    points: list[dict] = []
    skipped: list[dict] = []
    params: dict[tuple[str, str], int] = {}
    for size in sizes:
        for prompt_len in prompt_lens:
            for method in methods:
                point = run_point(size, method, prompt_len, new_tokens, layers=layers, seed=seed, timeout=timeout,
                                  frac_bits=frac_bits, insecure=insecure, material_mb=material_mb)
                head = f"[sweep] size={size} method={method} prompt_len={prompt_len}"
                if "skipped" in point:
                    skipped.append(point)
                    print(f"{head} skipped: {point['skipped']}", file=log, flush=True)
                    continue
                if (size, method) not in params:
                    params[size, method] = _params(size, method, seed, overrides)
                point["params"] = params[size, method]
                points.append(point)
                print(f"{head}: {point['decode_seconds']:.3g} s/token, {point['decode_online_bytes'] / MB:.3g} MB, "
                      f"{point['decode_rounds']:g} rounds", file=log, flush=True)
    meta = {"machine": platform.machine(), "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "transport": "tcp (insecure)" if insecure else "tls1.3", "new_tokens": new_tokens, "seed": seed,
            "layers": layers, "frac_bits": frac_bits, "material_mb": material_mb,
            "grid": {"sizes": list(sizes), "methods": list(methods), "prompt_lens": list(prompt_lens)}}
    return {"points": points, "skipped": skipped, "meta": meta}


SAME_SETTINGS = ("new_tokens", "seed", "layers", "frac_bits", "transport")


def combine_sweeps(results: Sequence[dict]) -> dict:
    """One sweep from several runs of the same settings (e.g. small sizes at every length, base at the
    short ones): points and skipped points concatenated (a point that one run skipped and another
    measured is measured), each axis of the grid in first-seen order.

    Raises ValueError when the runs differ in a setting that changes what a point measures, or when
    two runs measured the same point."""
    if not results:
        raise ValueError("nothing to combine")
    metas = [r.get("meta", {}) for r in results]
    for key in SAME_SETTINGS:
        values = {repr(m.get(key)) for m in metas}
        if len(values) > 1:
            raise ValueError(f"the sweeps differ in {key}: {', '.join(sorted(values))}")
    seen: set[tuple] = set()
    points: list[dict] = []
    skipped: list[dict] = []
    for r in results:
        for point in r.get("points", []):
            key = (point["size"], point["method"], point["prompt_len"])
            if key in seen:
                raise ValueError(f"point {key} is in more than one sweep")
            seen.add(key)
            points.append(point)
        skipped.extend(r.get("skipped", []))
    # a point one run skipped (e.g. killed for memory) and another measured (streamed) counts as measured
    skipped = [p for p in skipped if (p["size"], p["method"], p["prompt_len"]) not in seen]
    grid = {axis: list(dict.fromkeys(v for m in metas for v in m.get("grid", {}).get(axis, [])))
            for axis in ("sizes", "methods", "prompt_lens")}
    meta = {**metas[0], "date": [m.get("date") for m in metas], "grid": grid,
            "material_mb": [m.get("material_mb") for m in metas],
            "machine": sorted({str(m.get("machine")) for m in metas}), "combined_from": len(results)}
    return {"points": points, "skipped": skipped, "meta": meta}


def _grid(result: dict, key: str) -> list:
    """The sweep's values of one axis, in order (from meta, else from the points)."""
    grid = result.get("meta", {}).get("grid", {}).get(key)
    if grid is not None:
        return list(grid)
    field = key[:-1]  # sizes -> size, methods -> method, prompt_lens -> prompt_len
    return list(dict.fromkeys(p[field] for p in result["points"] + result.get("skipped", [])))


def _count(n: float) -> str:
    """A parameter count for an axis label: 18.0k, 124M."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:g}"


def _panel(ax: object, result: dict, x: str, fixed: dict, row: tuple[str, float, str]) -> list[dict]:
    """One subplot: a line per method (those with points) of one measure against x; the points drawn."""
    key, scale, label = row
    drawn: list[dict] = []
    for i, method in enumerate(_grid(result, "methods")):
        pts = sorted((p for p in result["points"] if p["method"] == method
                      and all(p[k] == v for k, v in fixed.items())), key=lambda p: p[x])
        # a streamed point's time includes waiting for material: drawn apart, hollow, not on the line
        streamed = [key == "decode_seconds" and p.get("material_mb") is not None for p in pts]
        apart = [p for p, s in zip(pts, streamed) if s]
        line = [p for p, s in zip(pts, streamed) if not s]
        if line:
            ax.plot([p[x] for p in line], [p[key] / scale for p in line], marker="o", color=f"C{i}", label=method)
        if apart:
            ax.plot([p[x] for p in apart], [p[key] / scale for p in apart], linestyle="none", marker="o",
                    markerfacecolor="none", color=f"C{i}", label=f"{method}, streamed material (waits for it)")
        drawn += pts
    ax.set_ylabel(label)
    if drawn:
        ax.legend(fontsize="small")
    else:
        ax.text(0.5, 0.5, "no points", ha="center", va="center", transform=ax.transAxes)
    return drawn


def _ticks(points: list[dict], x: str) -> dict[float, str]:
    """x ticks: the prompt lengths, or one per size at its smallest parameter count ("base" over "124M")."""
    if x == "prompt_len":
        return {p[x]: str(p[x]) for p in points}
    least: dict[str, int] = {}
    for p in points:
        least[p["size"]] = min(p[x], least.get(p["size"], p[x]))
    return {n: f"{size}\n{_count(n)}" for size, n in least.items()}


def _figure(result: dict, x: str, columns: str, title: str, xlabel: str, path: Path) -> Path:
    """A grid of panels: rows are time and bytes per decode token, one column per value of the other axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    values = _grid(result, columns) or [None]
    fig, axes = plt.subplots(len(ROWS), len(values), figsize=(max(5.0, 4.2 * len(values)), 7.0), squeeze=False)
    for j, value in enumerate(values):
        for i, row in enumerate(ROWS):
            ax = axes[i][j]
            drawn = _panel(ax, result, x, {} if value is None else {columns[:-1]: value}, row)
            ax.set_xscale("log", base=2 if x == "prompt_len" else 10)
            if x == "params":
                ax.set_yscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ticks = _ticks(drawn, x)
            ax.set_xticks(sorted(ticks), [ticks[t] for t in sorted(ticks)])
            ax.grid(True, alpha=0.3)
            if i == 0:
                name = "size" if columns == "sizes" else "prompt length"
                ax.set_title(f"{name} = {value}" + ("" if columns == "sizes" else " tokens"))
            if i == len(ROWS) - 1:
                ax.set_xlabel(xlabel)
    meta = result.get("meta", {})
    scales = "; log-log axes" if x == "params" else ""
    fig.suptitle(f"{title}\n({meta.get('transport', '?')}, {meta.get('new_tokens', '?')} new tokens, "
                 f"means over the decode steps, prefill left out{scales})", fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_sweep(result: dict, out_dir: str | Path) -> list[Path]:
    """Write sweep_vs_prompt_len.png and sweep_vs_size.png (time and MB per decode token, a line per method).
    Needs matplotlib, an optional extra (``pip install 'privformers[plots]'``): ImportError saying so."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("the sweep's figures need matplotlib: pip install 'privformers[plots]' "
                          "(sweep.json is written without it)") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [_figure(result, "prompt_len", "sizes", "Private generation: cost per token against prompt length",
                    "prompt length (tokens, log2 scale)", out / "sweep_vs_prompt_len.png"),
            _figure(result, "params", "prompt_lens", "Private generation: cost per token against model size",
                    "model parameters (log scale)", out / "sweep_vs_size.png")]
