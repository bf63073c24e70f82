"""Private text generation: greedy decoding of Hugging Face models under two-party computation.

The client's prompt and generated tokens stay secret from the server; the server's weights stay
secret from the client. Each step's token is chosen by a secure argmax and revealed to the client
only, who feeds it back as its next (secret) input. A KV cache of secret tensors avoids
recomputing the prefix. ``reveal_logits`` is an opt-in shortcut that reveals the whole
next-token distribution to the client instead (see ``program.py``).
"""

from privformers.lazy import lazy_exports

_EXPORTS = {
    "SecretCache": "cache",
    "generate_program": "program",
    "generate_run": "program",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
