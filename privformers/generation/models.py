"""The model specs' former home, kept as a thin alias: they live in ``privformers.models`` now
(``spec``, ``load``, ``random_weights``, ``shapes``), which every package uses. Import from there."""

from privformers.hf import auto_class as auto_class
from privformers.hf import decoder_start as decoder_start
from privformers.models.load import WEIGHT_FILES as WEIGHT_FILES
from privformers.models.load import ModelNotFoundError as ModelNotFoundError
from privformers.models.load import check_weights as check_weights
from privformers.models.load import from_args as from_args
from privformers.models.load import from_config_dict as from_config_dict
from privformers.models.load import from_path as from_path
from privformers.models.random_weights import decoder_config as decoder_config
from privformers.models.random_weights import random_decoder as random_decoder
from privformers.models.random_weights import random_gpt2 as random_gpt2
from privformers.models.random_weights import random_spec as random_spec
from privformers.models.shapes import SIZES as SIZES
from privformers.models.spec import PRIVATE_CONFIG_KEYS as PRIVATE_CONFIG_KEYS
from privformers.models.spec import ModelSpec as ModelSpec
from privformers.models.spec import PromptTooLongError as PromptTooLongError
from privformers.models.spec import check_length as check_length
from privformers.models.spec import public_config as public_config
from privformers.models.spec import public_spec as public_spec
