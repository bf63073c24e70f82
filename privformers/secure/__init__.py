"""Secure runtime for Hugging Face models: run ``transformers`` model objects unchanged on secret shares.

Why a tensor subclass (``SecretTensor`` with ``__torch_function__``) and not module conversion:
attention, residual adds, masks and activations in Hugging Face models are plain tensor code
inside ``forward`` methods, not modules, so converting modules alone would still leave most of
the computation to intercept. With a subclass, every torch call that touches a secret value or
a server-held weight lands in one registry (``registry.py``), one secure implementation per op;
the model code, masks and position ids run as written, and an op with no secure implementation
fails loudly, naming the op and the module being executed.
"""

from typing import TYPE_CHECKING

from privformers.lazy import lazy_exports

_EXPORTS = {
    "UnsupportedOpError": "registry",
    "register_op": "registry",
    "secure_forward": "runtime",
    "secure_program": "runtime",
    "PrivateIds": "tensor",
    "SecretTensor": "tensor",
    "ServerParam": "tensor",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:   # the lazy names' real definitions, for IDEs and type checkers (never run)
    from privformers.secure.registry import UnsupportedOpError as UnsupportedOpError
    from privformers.secure.registry import register_op as register_op
    from privformers.secure.runtime import secure_forward as secure_forward
    from privformers.secure.runtime import secure_program as secure_program
    from privformers.secure.tensor import PrivateIds as PrivateIds
    from privformers.secure.tensor import SecretTensor as SecretTensor
    from privformers.secure.tensor import ServerParam as ServerParam
