"""The trained byte-level BPE tokenizer: exact size, lossless on unseen text, loadable by AutoTokenizer."""

from transformers import AutoTokenizer

from privformers.lm.tokenizer import EOS_TOKEN, train_bpe_tokenizer


def test_roundtrip_and_reload(tmp_path):
    tokenizer = train_bpe_tokenizer(
        ["name[The Eagle], area[riverside] = The Eagle is by the river."] * 20, 300
    )
    assert len(tokenizer) <= 300 and tokenizer.eos_token == EOS_TOKEN
    unseen = "Zürich café, 5 stars! 😀"
    assert tokenizer.decode(tokenizer(unseen)["input_ids"]) == unseen
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again("The Eagle")["input_ids"] == tokenizer("The Eagle")["input_ids"]
    assert again.eos_token_id == tokenizer.eos_token_id
