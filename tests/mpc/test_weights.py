"""Products with server-held weights: correct, and activation-sized online traffic."""

import pytest
import torch

from privformers.mpc.meter import diff
from privformers.mpc.party import CLIENT, SERVER, Party
from privformers.mpc.protocols.inputs import reveal_to, share_input
from privformers.mpc.protocols.trunc import trunc
from privformers.mpc.protocols.weights import ServerWeight, SharedInput
from privformers.mpc.session import Program, run_local


def test_weight_products_match_float():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(12, 20, generator=g, dtype=torch.float64)
    v = torch.randn(20, generator=g, dtype=torch.float64)
    x = torch.randn(3, 12, generator=g, dtype=torch.float64)
    x2 = torch.randn(3, 20, generator=g, dtype=torch.float64)

    def setup(party: Party):
        own = party.role == SERVER
        return (ServerWeight(party, w if own else None, tuple(w.shape)),
                ServerWeight(party, v if own else None, tuple(v.shape)))

    def run(party: Party, state):
        W, V = state
        a = share_input(party, CLIENT, x, tuple(x.shape))
        b = share_input(party, CLIENT, x2, tuple(x2.shape))
        return (reveal_to(trunc(W.product(a)), CLIENT), reveal_to(trunc(W.product(b, "matmul_t")), CLIENT),
                reveal_to(trunc(V.product(b, "mul")), CLIENT))

    r1, r2, r3 = run_local(Program(run=run, setup=setup)).results["client"]
    assert (r1 - x @ w).abs().max() < 1e-3
    assert (r2 - x2 @ w.T).abs().max() < 1e-3
    assert (r3 - x2 * v).abs().max() < 1e-3


def test_fixed_weight_online_bytes_are_activation_sized():
    """Acceptance 3: (1x768)(768x3072) x100; per product per party <= 2*8*(768+3072) online."""
    g = torch.Generator().manual_seed(0)
    w = torch.randn(768, 3072, generator=g, dtype=torch.float64) * 0.05
    xs = torch.randn(100, 1, 768, generator=g, dtype=torch.float64)
    costs: dict = {}

    def setup(party: Party):
        return ServerWeight(party, w if party.role == SERVER else None, (768, 3072))

    def run(party: Party, W):
        outs = []
        for i in range(100):
            a = share_input(party, CLIENT, xs[i], (1, 768))
            before = party.meter.snapshot()
            outs.append(trunc(W.product(a)))
            if party.mode == "online":
                d = diff(party.meter.snapshot(), before)
                costs.setdefault(party.role, []).append(sum(d["bytes"].values()))
        return reveal_to(outs[-1], CLIENT)

    out = run_local(Program(run=run, setup=setup)).results["client"]
    assert (out - xs[-1] @ w).abs().max() < 1e-3
    limit = 2 * 8 * (768 + 3072)
    for role in ("client", "server"):
        assert len(costs[role]) == 100
        assert max(costs[role][1:]) <= limit, (role, max(costs[role]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_weight_products_with_the_server_on_a_gpu_match_float():
    """The same protocol with the server's plaintext-weight products on a GPU: same accuracy, same
    online bytes and rounds (only where the server's arithmetic runs changes)."""
    g = torch.Generator().manual_seed(1)
    w = torch.randn(384, 1536, generator=g, dtype=torch.float64) * 0.05
    x = torch.randn(16, 384, generator=g, dtype=torch.float64)

    def setup(party: Party):
        return ServerWeight(party, w if party.role == SERVER else None, tuple(w.shape))

    def run(party: Party, W):
        a = share_input(party, CLIENT, x, tuple(x.shape))
        return reveal_to(trunc(W.product(a)), CLIENT)

    runs = {dev: run_local(Program(run=run, setup=setup), server_gemm_device=dev) for dev in ("cpu", "cuda")}
    for r in runs.values():
        assert (r.results["client"] - x @ w).abs().max() < 1e-3
    assert runs["cuda"].parties[SERVER].gemm_device.type == "cuda"
    assert runs["cuda"].meters[CLIENT].summary()["online_bytes"] == runs["cpu"].meters[CLIENT].summary()["online_bytes"]


def test_products_sharing_an_input_send_it_once():
    """Query, key and value projections of one input: one message and one round for all three, and the
    same results as three separate products (the shared mask is reused, each product keeps its own C_s)."""
    g = torch.Generator().manual_seed(2)
    ws = [torch.randn(16, n, generator=g, dtype=torch.float64) * 0.3 for n in (16, 8, 8)]
    x = torch.randn(2, 16, generator=g, dtype=torch.float64)
    costs: dict = {}

    def setup(party: Party):
        return [ServerWeight(party, w if party.role == SERVER else None, tuple(w.shape)) for w in ws]

    def run(party: Party, weights):
        a = share_input(party, CLIENT, x, tuple(x.shape))
        before = party.meter.snapshot()
        shared = SharedInput()
        outs = [trunc(w.product(a, shared=shared)) for w in weights]
        if party.mode == "online":
            d = diff(party.meter.snapshot(), before)
            costs[party.role] = (sum(d["rounds"].values()), sum(d["bytes"].values()))
        return [reveal_to(o, CLIENT) for o in outs]

    outs = run_local(Program(run=run, setup=setup)).results["client"]
    for out, w in zip(outs, ws):
        assert (out - x @ w).abs().max() < 1e-3
    # the input once from the client (2 x 16 x 8 B), then three truncations of 16, 8 and 8 columns
    assert costs[CLIENT] == (1 + 3, 8 * 2 * 16 + 8 * 2 * (16 + 8 + 8))
    assert costs[SERVER] == (1 + 3, 8 * 2 * (16 + 8 + 8))


@pytest.mark.parametrize("budget_mb,on_disk", [("0", False), ("0", True), ("8192", False)],
                         ids=["lean", "lean-on-disk", "limbs"])
def test_lean_weights_give_the_same_products_and_hold_less(monkeypatch, tmp_path, budget_mb, on_disk):
    """Past the process's limb budget the client keeps F as int64 (8 B per entry instead of 16 as limbs) and
    the dealer only B's seed, regenerating B a block of rows at a time in each product; with a weights folder
    the server's W and the client's F live in unlinked memory-mapped files there."""
    from privformers.mpc import ringmath

    monkeypatch.setenv(ringmath.LIMB_CACHE_ENV, budget_mb)
    if on_disk:
        monkeypatch.setenv(ringmath.WEIGHTS_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(ringmath, "CHUNK_ENTRIES", 256)   # several row blocks per product
    g = torch.Generator().manual_seed(4)
    w = torch.randn(64, 48, generator=g, dtype=torch.float64) * 0.2
    x = torch.randn(3, 64, generator=g, dtype=torch.float64)
    x2 = torch.randn(3, 48, generator=g, dtype=torch.float64)
    held: dict = {}

    def setup(party: Party):
        weight = ServerWeight(party, w if party.role == SERVER else None, tuple(w.shape))
        held[party.role] = weight.nbytes()
        return weight

    def run(party: Party, W):
        a = share_input(party, CLIENT, x, tuple(x.shape))
        b = share_input(party, CLIENT, x2, tuple(x2.shape))
        return reveal_to(trunc(W.product(a)), CLIENT), reveal_to(trunc(W.product(b, "matmul_t")), CLIENT)

    r1, r2 = run_local(Program(run=run, setup=setup)).results["client"]
    assert (r1 - x @ w).abs().max() < 1e-3 and (r2 - x2 @ w.T).abs().max() < 1e-3
    assert list(tmp_path.iterdir()) == []   # the files were unlinked at once
    entries = w.numel()
    lean = budget_mb == "0"
    assert held == {"server": 8 * entries, "client": (8 if lean else 16) * entries,
                    "dealer": 0 if lean else 16 * entries}
