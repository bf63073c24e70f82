"""Fixed-point functions on shares, each with a stated input domain and a measured error bound
(see tests/mpc/functions and `privformers bench ops`)."""

from privformers.mpc.functions.exp import exp
from privformers.mpc.functions.gelu import gelu
from privformers.mpc.functions.layernorm import layer_norm
from privformers.mpc.functions.reciprocal import reciprocal
from privformers.mpc.functions.rmsnorm import rms_normalize
from privformers.mpc.functions.rsqrt import rsqrt
from privformers.mpc.functions.sigmoid import sigmoid, tanh
from privformers.mpc.functions.silu import silu
from privformers.mpc.functions.softmax import softmax

__all__ = ["exp", "gelu", "layer_norm", "reciprocal", "rms_normalize", "rsqrt", "sigmoid", "silu", "softmax", "tanh"]
