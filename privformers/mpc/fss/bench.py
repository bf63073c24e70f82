"""Command-line micro-benchmark of the DCF: ``python -m privformers.mpc.fss.bench [N] [n_bits ...]``."""

from __future__ import annotations

import sys

from privformers.mpc.fss.dcf import bench_dcf


def main(argv: list[str] | None = None) -> None:
    """Print keygen/eval seconds and key bytes per element for N elements (default 50257) at each n_bits."""
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 50257
    for nb in [int(a) for a in args[1:]] or [40, 63]:
        r = bench_dcf(n, nb)
        print(
            f"N={n} n_bits={nb}: keygen {r['keygen_s']:.3f} s (both keys), "
            f"eval {r['eval_s']:.3f} s per party, "
            f"{r['key_bytes_per_element']:.0f} B/element/key, correct={bool(r['correct'])}"
        )


if __name__ == "__main__":
    main()
