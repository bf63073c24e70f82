"""Which model to run, for every package: a ``ModelSpec`` (public architecture, approximation recipe, the
server's weights) loaded from a ``save_pretrained`` folder, a public config or a program's arguments, seeded
random-weight models of named shapes (tests, benchmarks), the configurations the secure runtime runs, and
plaintext greedy decoding as the reference the secure tokens must equal.
"""

from typing import TYPE_CHECKING

from privformers.lazy import lazy_exports

_EXPORTS = {
    "ModelNotFoundError": "load",
    "check_weights": "load",
    "from_args": "load",
    "from_config_dict": "load",
    "from_path": "load",
    "plain_greedy": "plain",
    "decoder_config": "random_weights",
    "random_decoder": "random_weights",
    "random_gpt2": "random_weights",
    "random_spec": "random_weights",
    "DECODER_ARCHS": "shapes",
    "DECODER_SIZES": "shapes",
    "SIZES": "shapes",
    "ModelSpec": "spec",
    "PromptTooLongError": "spec",
    "check_length": "spec",
    "public_config": "spec",
    "public_spec": "spec",
    "UnsupportedConfigError": "support",
    "check_supported": "support",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:   # the lazy names' real definitions, for IDEs and type checkers (never run)
    from privformers.models.load import ModelNotFoundError as ModelNotFoundError
    from privformers.models.load import check_weights as check_weights
    from privformers.models.load import from_args as from_args
    from privformers.models.load import from_config_dict as from_config_dict
    from privformers.models.load import from_path as from_path
    from privformers.models.plain import plain_greedy as plain_greedy
    from privformers.models.random_weights import decoder_config as decoder_config
    from privformers.models.random_weights import random_decoder as random_decoder
    from privformers.models.random_weights import random_gpt2 as random_gpt2
    from privformers.models.random_weights import random_spec as random_spec
    from privformers.models.shapes import DECODER_ARCHS as DECODER_ARCHS
    from privformers.models.shapes import DECODER_SIZES as DECODER_SIZES
    from privformers.models.shapes import SIZES as SIZES
    from privformers.models.spec import ModelSpec as ModelSpec
    from privformers.models.spec import PromptTooLongError as PromptTooLongError
    from privformers.models.spec import check_length as check_length
    from privformers.models.spec import public_config as public_config
    from privformers.models.spec import public_spec as public_spec
    from privformers.models.support import UnsupportedConfigError as UnsupportedConfigError
    from privformers.models.support import check_supported as check_supported
