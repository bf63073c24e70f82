"""DP LoRA fine-tuning of a Llama-architecture model with ``DPTrainer``, on one process or several.

    accelerate launch --cpu --num_processes 2 scripts/dp_trainer_lora_llama.py --output-dir /tmp/dp-llama
    accelerate launch --num_processes 2 scripts/dp_trainer_lora_llama.py ...   # two GPUs (NCCL)
    python scripts/dp_trainer_lora_llama.py ...                                  # one process

By default the model is a small random Llama (no download) and the data are synthetic sequences
that count up modulo the vocabulary, a pattern the adapters can learn; ``--model PATH`` fine-tunes a
pretrained Llama-family checkpoint instead (e.g. a local copy of Llama-3.2-1B). The logical batch is
``--batch-size`` per process times the number of processes, Poisson-sampled; rank 0 prints a JSON
line with epsilon, the losses and the number of processes, and saves the adapters merged in.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import transformers as tf

from privformers.dp.lora import add_lora, merged
from privformers.dp.trainer import DPTrainer


class CountingSequences(torch.utils.data.Dataset):
    """``n`` sequences ``start, start+1, ...`` modulo ``vocab`` (a fixed generator: the same on every rank)."""

    def __init__(self, n: int, seq: int, vocab: int):
        starts = torch.randint(0, vocab, (n, 1), generator=torch.Generator().manual_seed(0))
        self.ids = (starts + torch.arange(seq)) % vocab

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def build_model(path: str | None, vocab: int) -> tf.PreTrainedModel:
    """A pretrained causal LM from ``path``, or a 2-layer random Llama (hidden 64, grouped-query attention)."""
    if path:
        return tf.AutoModelForCausalLM.from_pretrained(path)
    config = tf.LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    torch.manual_seed(0)
    return tf.LlamaForCausalLM(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="pretrained Llama-family folder (default: a small random Llama)")
    parser.add_argument("--output-dir", default="dp-llama-out")
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--seq", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16, help="expected examples per process and step")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--epsilon", type=float, default=8.0)
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-2)
    args = parser.parse_args()

    vocab = 128
    model = build_model(args.model, vocab)
    model = add_lora(model, args.lora_rank, targets=r".*\.(q_proj|v_proj)$", task="lm")
    data = CountingSequences(args.examples, args.seq, model.config.vocab_size if args.model else vocab)
    training = tf.TrainingArguments(output_dir=args.output_dir, per_device_train_batch_size=args.batch_size,
                                    max_steps=args.steps, learning_rate=args.lr, logging_steps=1, report_to=[],
                                    save_strategy="no", use_cpu=not torch.cuda.is_available())
    trainer = DPTrainer(model=model, args=training, train_dataset=data,
                        privacy=dict(target_epsilon=args.epsilon, max_grad_norm=1.0, clipping_mode="bk"))
    trainer.train()
    if trainer.is_world_process_zero():
        losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        engine = trainer.privacy_engine
        print(json.dumps({"processes": trainer.args.world_size, "logical_batch": engine.batch_size,
                          "steps": engine.steps_taken, "noise_multiplier": engine.noise_multiplier,
                          **{k: v for k, v in engine.get_privacy_spent().items() if k.startswith("eps")},
                          "first_loss": losses[0], "last_loss": losses[-1],
                          "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}))
        merged(model).save_pretrained(Path(args.output_dir) / "final")


if __name__ == "__main__":
    main()
