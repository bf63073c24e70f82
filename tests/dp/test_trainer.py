"""DPTrainer trains a tiny BERT privately through the Trainer loop, one private step per batch."""

from __future__ import annotations

import pytest
import torch
import transformers as tf

from privformers.dp.trainer import DPTrainer

pytest.importorskip("accelerate", reason="transformers' Trainer needs accelerate, not installed here")


class Examples(torch.utils.data.Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(1, 50, (n, 6), generator=g)
        self.labels = (self.ids[:, 0] > 25).long()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def test_dp_trainer_runs_private_steps(tmp_path):
    torch.manual_seed(0)
    config = tf.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=16)
    model = tf.BertForSequenceClassification(config)
    before = model.classifier.weight.detach().clone()
    args = tf.TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=4,
                                learning_rate=1e-3, report_to=[], logging_steps=2, save_strategy="no",
                                use_cpu=True)
    trainer = DPTrainer(model=model, args=args, train_dataset=Examples(64),
                        privacy=dict(noise_multiplier=1.0, max_grad_norm=0.5))
    trainer.train()
    engine = trainer.privacy_engine
    assert engine.steps_taken == 4
    assert not torch.equal(before, model.classifier.weight)
    assert engine.get_privacy_spent()["eps_rdp"] > 0
    eps_logged = [h for h in trainer.state.log_history if "eps_rdp" in h]
    assert eps_logged
