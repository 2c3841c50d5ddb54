"""The EMA generator's batch norms: measured under its own weights before it samples or is saved."""

from pathlib import Path

import torch
from safetensors.torch import load_file

from conftest import TINY
from t2igan.cli import main
from t2igan.config import TrainConfig
from t2igan.models import get_model
from t2igan.runs import latest_checkpoint
from t2igan.training.ema import EMA, settle_batch_norms

TEXT_DIM = 12


def tiny_generator() -> torch.nn.Module:
    cfg = TrainConfig(model="gan-int-cls", image_size="32", ngf=8, ndf=8, nz=16, text_code=16)
    return get_model("gan-int-cls").build(TEXT_DIM, cfg, 0)[0]


def first_norm_input_mean(G: torch.nn.Module, text: torch.Tensor) -> torch.Tensor:
    """The mean per channel of what G's first batch norm sees, over a fresh batch of 2,048."""
    norm = next(m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = []
    hook = norm.register_forward_hook(lambda m, args, out: seen.append(args[0].mean((0, 2, 3))))
    rng = torch.Generator().manual_seed(5)
    with torch.no_grad():
        G.eval()(torch.randn(2048, G.noise_dim, generator=rng),
                 text[torch.randint(len(text), (2048,), generator=rng)])
    hook.remove()
    return seen[0]


def test_settled_statistics_describe_the_average_not_the_raw_weights() -> None:
    torch.manual_seed(0)
    G, text = tiny_generator(), torch.randn(40, TEXT_DIM)
    ema = EMA(G, decay=0.999)
    with torch.no_grad():  # G moves far from the average, and its norms measure the new G
        for p in G.parameters():
            p.add_(torch.randn_like(p))
        for _ in range(30):
            G.train()(torch.randn(64, G.noise_dim), text[torch.randint(len(text), (64,))])
    ema.update(G, step=10_000)  # decay 0.999: the weights barely move, G's statistics are copied
    norm = next(m for m in ema.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    truth = first_norm_input_mean(ema.model, text)
    copied = norm.running_mean.clone()
    settle_batch_norms(ema.model, text, seed=3)
    assert (copied - truth).abs().max() > 0.5  # the raw G's statistics do not fit the average
    assert torch.allclose(norm.running_mean, truth, atol=0.05)
    assert norm.momentum == 0.1 and not ema.model.training
    settled = [b.clone() for b in ema.model.buffers()]
    settle_batch_norms(ema.model, text, seed=3)  # same seed, same statistics
    assert all(torch.equal(a, b) for a, b in zip(settled, ema.model.buffers(), strict=True))


def test_a_checkpoint_holds_the_averages_own_statistics(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "2"]) == 0
    saved = load_file(latest_checkpoint(run) / "weights.safetensors")
    means = [name for name in saved if name.startswith("G.") and name.endswith("running_mean")]
    # before, the average's statistics were copies of G's
    assert means and all(not torch.equal(saved[n], saved["G_ema." + n[2:]]) for n in means)
