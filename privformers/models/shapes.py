"""Named shapes of GPT-2 and of the Llama-family decoders for random-weight runs, as plain data (the command line
reads them without loading model code; ``random_weights.py`` builds the configs)."""

SIZES = {  # GPT-2 shapes for random-weight runs
    "tiny": dict(n_layer=2, n_embd=32, n_head=2, vocab_size=101, n_positions=64),
    "small": dict(n_layer=4, n_embd=256, n_head=4, vocab_size=50257, n_positions=1024),
    "base": dict(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024),
}

# Llama-family shapes for random-weight runs (``bench generate --arch llama|qwen2|mistral|gemma``); each arch
# builds its own config class from the same shape (Gemma: 1 + w norms and tanh-GeLU gates; Qwen2: biased Q/K/V)
DECODER_ARCHS = ("llama", "qwen2", "mistral", "gemma")
DECODER_SIZES = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=64, vocab_size=101, max_position_embeddings=64, tie_word_embeddings=False),
    # SmolLM-135M (its LM head is the token embedding)
    "base": dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                 intermediate_size=1536, vocab_size=49152, max_position_embeddings=2048, tie_word_embeddings=True),
    # Llama-2-7B
    "7b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
               intermediate_size=11008, vocab_size=32000, max_position_embeddings=4096, tie_word_embeddings=False),
    # Llama-3-8B (Llama 3.1's rope scaling)
    "8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
               intermediate_size=14336, vocab_size=128256, max_position_embeddings=8192, tie_word_embeddings=False,
               rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}),
}
