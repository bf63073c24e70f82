"""The configurations the secure runtime runs, checked where every model spec is made."""

import pytest

from privformers.models.support import APPROX_ATTENTION, SECURE_ATTENTION, UnsupportedConfigError, check_supported


def test_the_attention_names_accepted_are_the_ones_privformers_installs():
    """``privformers.approx`` sits below ``models`` and spells its name itself: the two must agree."""
    from privformers.approx.attention import ATTENTION
    from privformers.secure.attention import APPROX, NAME

    assert APPROX_ATTENTION == ATTENTION == APPROX
    assert SECURE_ATTENTION == NAME


def test_another_attention_implementation_is_refused_by_name():
    from transformers import GPT2Config

    config = GPT2Config(n_layer=1, n_embd=8, n_head=2)
    config._attn_implementation_internal = "sdpa"
    with pytest.raises(UnsupportedConfigError, match="attention implementation 'sdpa'"):
        check_supported(config)
    for name in (None, "eager", SECURE_ATTENTION, APPROX_ATTENTION):
        config._attn_implementation_internal = name
        check_supported(config)
