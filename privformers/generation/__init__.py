"""Private text generation: Hugging Face models under two-party computation.

The client's prompt and generated tokens stay secret from the server; the server's weights stay
secret from the client. ``generate`` is the one entry point (``api.py``): text or ids, a
``transformers.GenerationConfig`` (greedy by a secure argmax, or sampling with temperature, top-k
and top-p), a streamer, and where the parties run (``InProcess``, ``LocalProcesses``,
``RemoteServer``). ``GenerationServer`` and ``DealerService`` are the objects that
``privformers serve`` and ``privformers dealer`` run, to start and stop from Python.
"""

from privformers.lazy import lazy_exports

_EXPORTS = {
    "DealerService": "service_exports",
    "GenerationOutput": "api",
    "GenerationServer": "serve",
    "InProcess": "parties",
    "LocalProcesses": "parties",
    "MpcOptions": "api",
    "RandomModel": "api",
    "RemoteServer": "parties",
    "SecretCache": "cache",
    "generate": "api",
    "generate_program": "program",
    "generate_run": "program",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
