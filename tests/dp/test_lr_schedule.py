"""dp-train's learning-rate schedules: linear warm-up, then linear decay to zero at the last step."""

import pytest
import torch

from privformers.dp.train import lr_schedule


def _rates(kind: str, steps: int, warmup: int) -> list[float]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = lr_schedule(opt, kind, steps, warmup)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def test_linear_schedule_warms_up_then_decays_to_zero() -> None:
    rates = _rates("linear", 10, 2)
    assert rates[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert rates[-1] == pytest.approx(1 / 8)
    assert all(a >= b for a, b in zip(rates[1:], rates[2:]))


def test_constant_schedule_and_bad_warmup() -> None:
    assert _rates("constant", 4, 0) == [1.0] * 4
    assert _rates("constant", 4, 2) == [0.5, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="warmup"):
        _rates("linear", 4, 4)
