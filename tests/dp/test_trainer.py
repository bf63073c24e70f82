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


def _two_rank_trainer(rank: int, world: int, folder: str) -> dict:
    """DPTrainer on a rank that a launcher started (accelerate/Trainer join the gloo group themselves)."""
    torch.manual_seed(rank)  # different initial weights per rank: the engine must give them rank 0's
    config = tf.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=16)
    model = tf.BertForSequenceClassification(config)
    args = tf.TrainingArguments(output_dir=folder, per_device_train_batch_size=4, max_steps=3, learning_rate=1e-2,
                                report_to=[], logging_steps=1, save_strategy="no", use_cpu=True)
    trainer = DPTrainer(model=model, args=args, train_dataset=Examples(64),
                        privacy=dict(noise_multiplier=1.0, max_grad_norm=0.5))
    trainer.train()
    engine = trainer.privacy_engine
    return {"world": torch.distributed.get_world_size(), "batch_size": engine.batch_size,
            "steps": engine.steps_taken, "eps": engine.get_privacy_spent()["eps_rdp"],
            "params": [p.detach().clone() for p in model.parameters()]}


def test_dp_trainer_on_two_ranks_keeps_replicas_equal(tmp_path):
    """Two launched ranks: the logical batch is 2 x per-device, replicas end equal (though they started
    different), and epsilon is the single-process value for that sample rate."""
    from privformers.dp.accounting import epsilon
    from tests.dp._ranks import run_ranks

    ranks = run_ranks(_two_rank_trainer, 2, tmp_path, str(tmp_path), launcher_env=True)
    for r in ranks:
        assert r["world"] == 2 and r["batch_size"] == 8 and r["steps"] == 3
        assert r["eps"] == pytest.approx(epsilon(8 / 64, 1.0, 3, 1 / 64**1.1))
    for a, b in zip(ranks[0]["params"], ranks[1]["params"]):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


@pytest.mark.slow
def test_readme_accelerate_example_runs_on_two_processes(tmp_path):
    """The DP LoRA Llama example of docs/how-to/dp-train.md, as written there
    (accelerate's torchrun launcher, gloo on the CPU)."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                          "--mixed_precision", "no", "--dynamo_backend", "no", "scripts/dp_trainer_lora_llama.py",
                          "--steps", "3", "--output-dir", str(tmp_path)], cwd=repo, env=env, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith('{"processes"')]
    assert len(lines) == 1   # rank 0 only
    result = json.loads(lines[0])
    assert result["processes"] == 2 and result["logical_batch"] == 32 and result["steps"] == 3
    assert 0 < result["eps_rdp"] <= 8 + 1e-6
    tf.LlamaForCausalLM.from_pretrained(tmp_path / "final")


def test_dp_trainer_refuses_accelerates_fsdp_plugin(tmp_path, monkeypatch):
    original = tf.Trainer.__init__

    def with_fsdp(self, *args, **kwargs):   # what Trainer sets when accelerate's state has an FSDP plugin
        original(self, *args, **kwargs)
        self.is_fsdp_enabled = True

    monkeypatch.setattr(tf.Trainer, "__init__", with_fsdp)
    config = tf.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=16)
    args = tf.TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=8, max_steps=1, report_to=[],
                                use_cpu=True)
    with pytest.raises(ValueError, match="FSDP or DeepSpeed plugins"):
        DPTrainer(model=tf.BertForSequenceClassification(config), args=args, train_dataset=Examples(16),
                  privacy=dict(noise_multiplier=1.0, max_grad_norm=0.5))
