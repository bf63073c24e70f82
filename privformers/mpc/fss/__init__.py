"""Function secret sharing: batched DCF (BCG+21) over Z_{2^64}, fixed-key AES PRG, for 1-round comparisons;
binary trees, and 4- or 16-ary ones for small batches."""

from privformers.mpc.fss.dcf import DCFKey, bench_dcf, dcf_eval, dcf_keygen
from privformers.mpc.fss.radix_dcf import RadixDCFKey, radix_dcf_eval, radix_dcf_keygen

__all__ = ["DCFKey", "RadixDCFKey", "bench_dcf", "dcf_eval", "dcf_keygen", "radix_dcf_eval", "radix_dcf_keygen"]
