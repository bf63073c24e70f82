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
