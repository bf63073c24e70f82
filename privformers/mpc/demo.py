"""``privformers demo``: a secure linear layer with three processes over TCP, printed readably.

The launcher is a test harness that knows every party's input, so it alone can print the
plaintext reference; no party does (the client never sees W or b, the server never sees x).
"""

from __future__ import annotations

import time

import torch

from privformers.mpc.launch import LaunchError, launch_local
from privformers.mpc.programs import linear_demo_inputs


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:+.4f}" for v in values) + "]"


def run_demo(seed: int = 0, timeout: float = 60.0) -> int:
    """Run linear-demo through the launcher and explain what happened; 0 if the result is right."""
    x, w, b = linear_demo_inputs(seed)
    print("privformers demo: y = x @ W + b computed by three processes over TLS 1.3 (localhost, fresh certificates)")
    print("  client holds x (1x8); server holds W (8x4) and b (4); the dealer supplies correlated randomness")
    print(f"  x = {_fmt(x.reshape(-1).tolist())}\n")
    t0 = time.perf_counter()
    try:
        # x reaches the client process alone, W and b the server alone: the dealer gets neither
        reports = launch_local("linear-demo", {}, timeout, client_args={"x": x.tolist()},
                               server_args={"w": w.tolist(), "b": b.tolist()})
    except LaunchError as exc:
        print(f"demo failed: {exc}")
        return 1
    wall = time.perf_counter() - t0
    got = torch.tensor(reports["client"]["result"], dtype=torch.float64)
    ref = (x @ w + b).reshape(-1)
    err = (got - ref).abs().max().item()
    print(f"client's result      y = {_fmt(got.tolist())}")
    print(f"plaintext reference    = {_fmt(ref.tolist())}   (computed by this harness, which knows W and b)")
    print(f"max abs error {err:.2e} (fixed point, 16 fractional bits)\n")
    print("What each party saw (first bytes of each message it received, hex): shares and masks look random")
    for role in ("client", "server", "dealer"):
        rep = reports[role]
        print(f"  {role}: {rep['role_view']}; result = {rep['result'] if role != 'client' else '(above)'}")
        for seen in rep["saw"]:
            note = "  (a PRG seed)" if seen["message"] == "bytes[32]" else ""
            print(f"    from {seen['from']:<6} {seen['message']:<22} {seen['first_bytes']}{note}")
    print("\nCost (bytes each party sent; rounds and network estimates from the online phase)")
    print(f"  {'party':<7} {'setup':>8} {'offline':>8} {'online':>8} {'rounds':>6} "
          f"{'LAN est':>9} {'WAN est':>9}")
    for role in ("client", "server", "dealer"):
        m = reports[role]["meter"]
        est = m["estimated_seconds"]
        print(f"  {role:<7} {m['setup_bytes']:>8} {m['offline_bytes']:>8} {m['online_bytes']:>8} "
              f"{m['online_rounds']:>6} {est['lan'] * 1e3:>7.2f}ms {est['wan'] * 1e3:>7.1f}ms")
    print(f"\nwall time with process start-up: {wall:.1f} s")
    return 0 if err < 1e-3 else 1
