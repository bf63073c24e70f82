"""The parties without weights build shape-only parameters (meta), with real buffers, in their own thread only."""

import threading

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from privformers.secure.placeholders import shape_only_parameters

CONFIG = LlamaConfig(vocab_size=101, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=64)


def test_parameters_are_shapes_only_and_buffers_real():
    with shape_only_parameters():
        model = LlamaForCausalLM._from_config(CONFIG, attn_implementation="eager")
    assert all(p.is_meta for p in model.parameters())
    assert not model.model.rotary_emb.inv_freq.is_meta   # computed from the public config, used as public
    assert model.model.layers[0].self_attn.q_proj.weight.shape == (32, 32)
    plain = LlamaForCausalLM._from_config(CONFIG, attn_implementation="eager")   # outside: as usual
    assert not any(p.is_meta for p in plain.parameters())


def test_the_switch_is_per_thread():
    """A server thread building its real model while a client thread builds placeholders (local runs)."""
    seen: dict = {}
    inside, done = threading.Event(), threading.Event()

    def client() -> None:
        with shape_only_parameters():
            inside.set()
            done.wait(10)
            seen["client"] = torch.nn.Linear(4, 4).weight.is_meta

    t = threading.Thread(target=client)
    t.start()
    inside.wait(10)
    seen["server"] = torch.nn.Linear(4, 4).weight.is_meta
    done.set()
    t.join()
    assert seen == {"client": True, "server": False}
