"""Secure implementations of torch ops, one file per kind; importing this package registers them all."""

from privformers.secure.ops import (  # noqa: F401 - imported for their registrations
    activation,
    approx_activation,
    approx_softmax,
    elementwise,
    embedding,
    linear,
    matmul,
    merge,
    norm,
    server_local,
    shape,
    softmax,
)
