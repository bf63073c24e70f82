"""Function secret sharing: batched DCF (BCG+21) over Z_{2^64}, fixed-key AES PRG, for 1-round comparisons."""

from privformers.mpc.fss.dcf import DCFKey, bench_dcf, dcf_eval, dcf_keygen

__all__ = ["DCFKey", "bench_dcf", "dcf_eval", "dcf_keygen"]
