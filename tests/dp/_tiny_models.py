"""Tiny random Hugging Face models (float64, no dropout) and per-example losses for tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import transformers as tf

VOCAB, SEQ, BATCH = 50, 7, 3
COMMON = dict(vocab_size=VOCAB)


def _no_dropout(config):
    for key, value in config.to_dict().items():
        if "drop" in key and isinstance(value, float):
            setattr(config, key, 0.0)
    return config


def _build(model_cls, config):
    torch.manual_seed(0)
    config = _no_dropout(config)
    config._attn_implementation = "eager"
    return model_cls(config).double().train()


def make(name: str, seq: int = SEQ):
    """Model and a function mapping (model, batch index slice) to per-example losses."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, VOCAB, (BATCH, seq), generator=g)
    labels = torch.randint(0, 2, (BATCH,), generator=g)
    if name.startswith("gpt2"):
        cfg = tf.GPT2Config(n_embd=16, n_layer=2, n_head=2, n_positions=16,
                            tie_word_embeddings=(name == "gpt2-tied"), **COMMON)
        return _build(tf.GPT2LMHeadModel, cfg), _lm_loss(ids)
    if name in ("bert", "roberta", "albert"):
        kw = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                  max_position_embeddings=32, **COMMON)
        if name == "bert":
            model = _build(tf.BertForSequenceClassification, tf.BertConfig(**kw))
        elif name == "roberta":
            model = _build(tf.RobertaForSequenceClassification, tf.RobertaConfig(pad_token_id=0, **kw))
        else:
            model = _build(tf.AlbertForSequenceClassification, tf.AlbertConfig(embedding_size=8, **kw))
        return model, _cls_loss(ids, labels)
    if name == "t5":
        cfg = tf.T5Config(d_model=16, d_kv=8, d_ff=32, num_layers=2, num_heads=2, **COMMON)
        model = _build(tf.T5ForConditionalGeneration, cfg)
        for n, p in model.named_parameters():
            if "relative_attention_bias" in n:
                p.requires_grad_(False)
        return model, _seq2seq_loss(ids)
    if name == "bart":
        cfg = tf.BartConfig(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                            decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                            max_position_embeddings=32, **COMMON)
        return _build(tf.BartForConditionalGeneration, cfg), _seq2seq_loss(ids)
    if name == "opt":
        cfg = tf.OPTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, ffn_dim=32,
                           word_embed_proj_dim=16, max_position_embeddings=32, **COMMON)
        return _build(tf.OPTForCausalLM, cfg), _lm_loss(ids)
    if name == "llama":
        cfg = tf.LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                             num_key_value_heads=1, max_position_embeddings=32, **COMMON)
        return _build(tf.LlamaForCausalLM, cfg), _lm_loss(ids)
    if name == "vit":
        cfg = tf.ViTConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
                           image_size=8, patch_size=4, num_channels=3, num_labels=2)
        pixels = torch.randn(BATCH, 3, 8, 8, generator=g, dtype=torch.float64)
        return _build(tf.ViTForImageClassification, cfg), _image_loss(pixels, labels)
    raise KeyError(name)


def _lm_loss(ids):
    def loss(model, rows):
        logits = model(input_ids=ids[rows]).logits[:, :-1]
        ce = F.cross_entropy(logits.permute(0, 2, 1), ids[rows][:, 1:], reduction="none")
        return ce.mean(dim=1)
    return loss


def _cls_loss(ids, labels):
    def loss(model, rows):
        return F.cross_entropy(model(input_ids=ids[rows]).logits, labels[rows], reduction="none")
    return loss


def _seq2seq_loss(ids):
    def loss(model, rows):
        dec = ids[rows].flip(1)
        logits = model(input_ids=ids[rows], decoder_input_ids=dec).logits[:, :-1]
        return F.cross_entropy(logits.permute(0, 2, 1), dec[:, 1:], reduction="none").mean(dim=1)
    return loss


def _image_loss(pixels, labels):
    def loss(model, rows):
        return F.cross_entropy(model(pixel_values=pixels[rows]).logits, labels[rows], reduction="none")
    return loss
