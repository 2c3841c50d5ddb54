"""The machine's best precision by default, mixed precision that keeps losses in fp32, fp16 with a
scaler per network, one G pass per step, --compile and --tensorboard wired into training."""

import json
from pathlib import Path

import pytest
import torch
from torch._dynamo.eval_frame import OptimizedModule

from t2igan import runtime
from t2igan.cli import main
from t2igan.config import TrainConfig
from t2igan.runtime import choose_precision, cpu_bf16_speedup, why_precision
from t2igan.training.loop import Trainer

TINY = dict(image_size="32", ngf=4, ndf=4, nz=8, text_code=8, batch_size=4, num_images=8,
            device="cpu")
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_auto_picks_bf16_only_where_the_hardware_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False)

    def not_timed() -> float:
        raise AssertionError("a CPU without bf16 instructions needs no timing")

    monkeypatch.setattr(runtime, "cpu_bf16_speedup", not_timed)
    assert choose_precision("auto", CPU) == "fp32"  # emulated bf16 is 27x slower
    assert why_precision("auto", CPU) == "auto: this CPU has no native bf16"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    # the instructions are there: the timed convolution decides
    monkeypatch.setattr(runtime, "cpu_bf16_speedup", lambda: 2.5)
    assert choose_precision("auto", CPU) == "bf16"
    monkeypatch.setattr(runtime, "cpu_bf16_speedup", lambda: 0.8)  # as on a Xeon without AMX
    assert choose_precision("auto", CPU) == "fp32"
    assert why_precision("auto", CPU) == "auto: this CPU's bf16 convolutions run 0.8x fp32's speed"
    assert choose_precision("bf16", CPU) == "bf16" and why_precision("bf16", CPU) == "as asked"
    # an older GPU, which has bf16 only by emulation: fp16 with loss scaling
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: including_emulation)
    assert choose_precision("auto", CUDA) == "fp16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert choose_precision("auto", CUDA) == "bf16"
    assert choose_precision("fp32", CUDA) == "fp32"  # asked for: as given


def test_the_bf16_timing_is_a_ratio_taken_once_per_process() -> None:
    state = torch.get_rng_state()
    # timed afresh (auto times only CPUs with the instructions; elsewhere emulated bf16 is slow)
    assert 0.01 < cpu_bf16_speedup.__wrapped__() < 100
    assert torch.equal(torch.get_rng_state(), state)  # weights' random numbers untouched
    speedup = cpu_bf16_speedup()
    assert cpu_bf16_speedup() is speedup  # cached: a second call times nothing


def test_the_chosen_precision_is_in_config_json_and_said(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--model", "gan-int-cls", "--image-size", "32",
                 "--ngf", "4", "--ndf", "4", "--nz", "8", "--text-code", "8", "--batch-size", "4",
                 "--num-images", "8", "--steps", "1", "--device", "cpu"]) == 0
    chosen = choose_precision("auto", CPU)
    assert json.loads((run / "config.json").read_text())["precision"] == chosen
    assert f"training gan-int-cls in {chosen} on cpu ({why_precision('auto', CPU)})" \
        in capsys.readouterr().err


def test_losses_stay_fp32_under_autocast(tmp_path: Path) -> None:
    trainer = Trainer(TrainConfig(model="gan-int-cls", precision="bf16", **TINY), tmp_path,
                      progress=False)
    stats = trainer.train_step()
    assert stats["loss_d"].dtype == stats["loss_g"].dtype == torch.float32
    batch = trainer.next_batch()
    with trainer.precision.autocast():
        judged = trainer.critic(batch.real, batch.text, batch.mismatched)
    assert judged.logits.dtype == judged.mismatched.dtype == torch.float32


def test_fp16_steps_each_network_with_its_own_scaler_and_resumes_them(tmp_path: Path) -> None:
    cfg = TrainConfig(model="gan-int-cls", precision="fp16", **TINY)
    trainer = Trainer(cfg, tmp_path, progress=False)
    before = [p.detach().clone() for p in (*trainer.G.parameters(), *trainer.D.parameters())]
    steps = [trainer.train_step() for _ in range(3)]
    assert all(torch.isfinite(s["loss_d"]) and torch.isfinite(s["loss_g"]) for s in steps)
    after = [*trainer.G.parameters(), *trainer.D.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(before, after))  # not every step skipped
    scalers = trainer.precision.scalers
    assert scalers["G"] is not scalers["D"] and scalers["G"].is_enabled()
    scalers["D"].update(1234.0)  # a scale of its own, which the checkpoint must keep
    trainer.save()
    from t2igan.runs import latest_checkpoint, load_checkpoint

    resumed = Trainer(cfg, tmp_path, progress=False)
    resumed.restore(load_checkpoint(latest_checkpoint(tmp_path)))
    assert resumed.precision.scalers["D"].get_scale() == 1234.0
    assert resumed.precision.scalers["G"].get_scale() == scalers["G"].get_scale()


@pytest.mark.parametrize("model,size,passes", [("df-gan", "64", 1), ("tac-gan", "32", 1),
                                               ("gan-int-cls", "32", 2)])
def test_g_runs_once_per_step_and_both_phases_share_its_images(
        tmp_path: Path, model: str, size: str, passes: int) -> None:
    trainer = Trainer(TrainConfig(**{**TINY, "model": model, "image_size": size}), tmp_path,
                      progress=False)
    calls = []
    trainer.G.register_forward_hook(lambda _m, _a, out: calls.append(out))
    trainer.train_step()
    assert len(calls) == passes  # GAN-INT-CLS adds the interpolated captions' pass in G's phase
    assert all(p.grad is not None for p in trainer.G.parameters())  # G learned from the shared pass


def test_compile_wraps_g_and_d_but_not_a_d_under_ma_gp(tmp_path: Path) -> None:
    # fp32: in bf16 (auto's choice on a CPU that has it) InFloat32 wraps the compiled D
    plain = Trainer(TrainConfig(model="gan-int-cls", compile=True, precision="fp32", **TINY),
                    tmp_path / "a", progress=False)
    assert isinstance(plain.generator, OptimizedModule)
    assert isinstance(plain.frozen_critic, OptimizedModule)
    penalised = Trainer(TrainConfig(**{**TINY, "model": "df-gan", "image_size": "64"},
                                    compile=True, precision="fp32"), tmp_path / "b",
                        progress=False)
    assert isinstance(penalised.generator, OptimizedModule)
    assert not isinstance(penalised.frozen_critic, OptimizedModule)  # compiled D: no 2nd backward


def test_compile_mode_reaches_torch_compile_and_each_step_frees_the_last_graphs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    modes, steps_begun = [], []

    def record(module: torch.nn.Module, mode: str = "default") -> torch.nn.Module:
        modes.append(mode)
        return module  # eager: the test is about the wiring, not inductor's minutes of compiling

    monkeypatch.setattr(torch, "compile", record)
    monkeypatch.setattr(torch.compiler, "cudagraph_mark_step_begin",
                        lambda: steps_begun.append(True))
    trainer = Trainer(TrainConfig(model="gan-int-cls", compile=True,
                                  compile_mode="reduce-overhead", **TINY), tmp_path, progress=False)
    assert modes == ["reduce-overhead", "reduce-overhead"]  # G and D
    for _ in range(2):
        trainer.train_step()
    assert len(steps_begun) == 2  # CUDA graphs may replay into the last step's outputs
    with pytest.raises(SystemExit) as stop:  # argparse names the choices in one line
        main(["train", "--out", str(tmp_path / "bad"), "--compile-mode", "fastest"])
    assert stop.value.code == 2


def test_tensorboard_gets_the_losses_and_the_samples(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--model", "gan-int-cls", "--image-size", "32",
                 "--ngf", "4", "--ndf", "4", "--nz", "8", "--text-code", "8", "--batch-size", "4",
                 "--num-images", "8", "--steps", "2", "--log-every", "1", "--sample-every", "2",
                 "--device", "cpu", "--tensorboard"]) == 0
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    assert [e.step for e in events.Scalars("train/loss_d")] == [1, 2]
    assert events.Images("samples")[0].step == 2
