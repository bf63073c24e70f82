"""The ``forward`` benchmark program: a random BERT classifier's secure forward, parties as threads."""

import torch

from privformers.mpc.programs import get_program
from privformers.mpc.session import run_local
from privformers.secure.programs import forward_model


def test_forward_program_reveals_the_classifier_logits_to_the_client():
    args = {"arch": "bert", "size": "tiny", "seed": 3, "seq_len": 8}
    run = run_local(get_program("forward").build(args))
    assert run.results["client"]["shape"] == [1, 2]
    assert run.results["client"]["seconds"] > 0
    assert run.results["server"]["shape"] is None  # the server learns no output
    factory, weights, _ = forward_model("bert", "tiny", 3)
    assert set(weights) == set(factory().state_dict())
    assert run.meters["client"].summary()["breakdown"]["norm"]["rounds"] > 0
    torch.testing.assert_close(forward_model("bert", "tiny", 3)[1]["classifier.weight"], weights["classifier.weight"])


def test_forward_program_runs_an_approximated_student_with_cheaper_activations():
    args = {"arch": "bert", "size": "tiny", "seed": 3, "seq_len": 8}
    exact = run_local(get_program("forward").build(args)).meters["client"].summary()["breakdown"]
    student = run_local(get_program("forward").build({**args, "recipe": "mpcformer-quad-2quad"}))
    assert student.results["client"]["shape"] == [1, 2]
    cheap = student.meters["client"].summary()["breakdown"]
    # Quad GeLU: one product instead of comparisons; 2Quad softmax: no max, no exponential
    assert cheap["activation"]["rounds"] < exact["activation"]["rounds"]
    assert cheap["softmax"]["rounds"] < exact["softmax"]["rounds"]


def test_compare_summary_gives_medians_and_per_repeat_speedups_over_the_first_recipe():
    from privformers.cli.bench.forward import compare_summary

    runs = [{"recipe": r, "seconds": s, "rounds": n, "online_bytes": b}
            for r, s, n, b in [("exact", 12.0, 500, 9), ("q", 3.0, 300, 4), ("exact", 10.0, 500, 9),
                               ("q", 4.0, 300, 4), ("exact", 14.0, 500, 9), ("q", 2.0, 300, 4)]]
    out = compare_summary(runs, ["exact", "q"])
    assert out["baseline"] == "exact"
    assert out["recipes"]["exact"]["seconds"] == [12.0, 10.0, 14.0]
    assert out["recipes"]["exact"]["median_seconds"] == 12.0 and out["recipes"]["q"]["min_seconds"] == 2.0
    assert out["recipes"]["q"]["rounds"] == 300
    assert out["speedup"]["q"]["per_repeat"] == [4.0, 2.5, 7.0]   # each repeat's exact / q, paired in order
    assert out["speedup"]["q"]["median_of_repeats"] == 4.0
    assert out["speedup"]["q"]["ratio_of_medians"] == 12.0 / 3.0
    assert "exact" not in out["speedup"]


def test_bench_forward_compare_refuses_bad_arguments_before_launching(capsys):
    from privformers.cli import main

    base = ["bench", "forward", "--arch", "bert", "--size", "tiny", "--random-weights"]
    assert main([*base, "--compare", "exact,not-a-recipe"]) == 2
    assert "unknown recipe 'not-a-recipe'" in capsys.readouterr().err
    assert main([*base, "--compare", "exact"]) == 2          # nothing to compare with
    assert main([*base, "--compare", "exact,thex", "--recipe", "thex"]) == 2
    assert main([*base, "--repeats", "3"]) == 2               # repeats only side by side
    assert "--repeats needs --compare" in capsys.readouterr().err
