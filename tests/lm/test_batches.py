"""Training batches: the loss covers the target and EOS only; padding is masked."""

from privformers.data import TextPair
from privformers.lm.batches import IGNORE_INDEX, collate, encode_pair
from privformers.lm.prompt import format_prompt
from privformers.lm.tokenizer import train_bpe_tokenizer


def test_prompt_masked_and_padding():
    tokenizer = train_bpe_tokenizer(["name[A] = A is good.", "name[B] = B is here."] * 10, 280)
    ids, labels = encode_pair(tokenizer, TextPair("name[A]", "A is good."), 64)
    prompt_len = len(tokenizer(format_prompt("name[A]"))["input_ids"])
    assert labels[:prompt_len] == [IGNORE_INDEX] * prompt_len
    assert labels[prompt_len:] == ids[prompt_len:] and ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(ids[prompt_len:-1]) == " A is good."
    batch = collate([(ids, labels), (ids[:3], labels[:3])], tokenizer.pad_token_id)
    assert batch["attention_mask"][1].tolist() == [1, 1, 1] + [0] * (len(ids) - 3)
    assert (batch["labels"][1, 3:] == IGNORE_INDEX).all()
