"""Secure implementations of torch ops, one file per kind; importing this package registers them all."""

from privformers.secure.ops import (  # noqa: F401 - imported for their registrations
    activation,
    elementwise,
    embedding,
    linear,
    matmul,
    norm,
    shape,
    softmax,
)
