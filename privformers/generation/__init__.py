"""Private text generation: Hugging Face models under two-party computation.

The client's prompt and generated tokens stay secret from the server; the server's weights stay
secret from the client. ``generate`` is the one entry point (``api.py``): text or ids, a
``transformers.GenerationConfig`` (greedy by a secure argmax, or sampling with temperature, top-k
and top-p), a streamer, and where the parties run (``InProcess``, ``LocalProcesses``,
``RemoteServer``). ``GenerationServer`` and ``DealerService`` are the objects that
``privformers serve`` and ``privformers dealer`` run, to start and stop from Python.
"""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:   # the lazy names' real definitions, for IDEs and type checkers (never run)
    from privformers.generation.api import GenerationOutput as GenerationOutput
    from privformers.generation.api import MpcOptions as MpcOptions
    from privformers.generation.api import RandomModel as RandomModel
    from privformers.generation.api import generate as generate
    from privformers.generation.cache import SecretCache as SecretCache
    from privformers.generation.parties import InProcess as InProcess
    from privformers.generation.parties import LocalProcesses as LocalProcesses
    from privformers.generation.parties import RemoteServer as RemoteServer
    from privformers.generation.program import generate_program as generate_program
    from privformers.generation.program import generate_run as generate_run
    from privformers.generation.serve import GenerationServer as GenerationServer
    from privformers.generation.service_exports import DealerService as DealerService
