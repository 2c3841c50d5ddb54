"""MS-SSIM diversity (AC-GAN / TAC-GAN) and the CLIP score from a local folder (a tiny random
CLIP)."""

from __future__ import annotations

import hashlib
import json
import math
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from t2igan.errors import UserError
from t2igan.metrics.clip_score import load_clip
from t2igan.metrics.ms_ssim import _draw_pairs, ms_ssim, ms_ssim_diversity, ssim_and_cs


def noise(n: int, h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """uint8 (n, 3, h, w) uniform noise."""
    return torch.randint(0, 256, (n, 3, h, w), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


def smooth(n: int, h: int = 64, w: int = 64, seed: int = 0) -> torch.Tensor:
    """uint8 (n, 3, h, w) blurred noise: image-like structure at every MS-SSIM scale."""
    x = F.interpolate(noise(n, h // 8, w // 8, seed).double(), size=(h, w), mode="bicubic",
                      align_corners=False)
    return x.clamp(0, 255).round().to(torch.uint8)


def perturb(images: torch.Tensor, strength: float, seed: int = 1) -> torch.Tensor:
    """images plus Gaussian noise of standard deviation `strength` (in 0..255 units)."""
    noisy = images + strength * torch.randn(images.shape,
                                            generator=torch.Generator().manual_seed(seed))
    return noisy.clamp(0, 255).round().to(torch.uint8)


# --- MS-SSIM --------------------------------------------------------------------------------------

@pytest.mark.parametrize("h, w", [(64, 64), (256, 256), (48, 64)])
def test_ms_ssim_of_an_image_with_itself_is_one(h: int, w: int) -> None:
    a = smooth(1, h, w)
    assert torch.allclose(ms_ssim(a, a.clone()), torch.ones(1, dtype=torch.float64),
                          rtol=0, atol=1e-9)


def test_ms_ssim_is_symmetric_and_batch_independent() -> None:
    a, b = smooth(4, seed=0), perturb(smooth(4, seed=0), 25.0)
    batched = ms_ssim(a, b)
    assert batched.dtype == torch.float64 and batched.shape == (4,)
    assert torch.allclose(batched, ms_ssim(b, a), rtol=0, atol=1e-12)
    one_by_one = torch.cat([ms_ssim(a[i:i + 1], b[i:i + 1]) for i in range(4)])
    assert torch.allclose(batched, one_by_one, rtol=0, atol=1e-12)


def test_noise_lowers_ms_ssim_monotonically() -> None:
    a = smooth(1, seed=3)
    scores = [ms_ssim(a, perturb(a, s)).item() for s in (2, 8, 20, 50, 100)]
    assert all(x > y for x, y in zip(scores, scores[1:])), scores
    assert scores[0] > 0.95


def test_unrelated_images_score_near_zero() -> None:
    a, b = noise(2, seed=0), noise(2, seed=1)
    unrelated = ms_ssim(a, b)
    close = ms_ssim(a, perturb(a, 5.0))
    assert (unrelated < 0.2).all() and (unrelated >= 0).all(), unrelated
    assert (close > 0.9).all() and (close > 4 * unrelated).all()


def slow_ssim(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Plain SSIM and cs of two float (3, H, W) images: 11x11 Gaussian (sigma 1.5), every valid
    window."""
    x = np.arange(11) - 5.0
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 1.5**2))
    g /= g.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim, cs = [], []
    for i in range(a.shape[1] - 10):
        for j in range(a.shape[2] - 10):
            pa, pb = a[:, i:i + 11, j:j + 11], b[:, i:i + 11, j:j + 11]  # (3, 11, 11) windows
            ma, mb = (pa * g).sum((1, 2)), (pb * g).sum((1, 2))  # (3,) local means
            da, db = pa - ma[:, None, None], pb - mb[:, None, None]
            va, vb, cov = ((g * da * da).sum((1, 2)), (g * db * db).sum((1, 2)),
                           (g * da * db).sum((1, 2)))
            c = (2 * cov + c2) / (va + vb + c2)
            cs.append(c)
            ssim.append((2 * ma * mb + c1) / (ma**2 + mb**2 + c1) * c)
    return float(np.mean(ssim)), float(np.mean(cs))


def test_first_scale_matches_a_slow_plain_ssim() -> None:
    a = smooth(1, 32, 40, seed=5)
    b = perturb(a, 30.0)
    ssim, cs = ssim_and_cs(a.double(), b.double())
    ref_ssim, ref_cs = slow_ssim(a[0].double().numpy(), b[0].double().numpy())
    assert 0.1 < ref_ssim < 0.99  # a pair where the check means something
    assert math.isclose(ssim.item(), ref_ssim, rel_tol=0, abs_tol=1e-10)
    assert math.isclose(cs.item(), ref_cs, rel_tol=0, abs_tol=1e-10)


def test_ms_ssim_rejects_float_or_mismatched_images() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ms_ssim(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="shape"):
        ms_ssim(noise(1, 32, 32), noise(1, 32, 48))


# --- diversity ------------------------------------------------------------------------------------

def test_diversity_of_identical_images_is_one_and_of_noise_is_small() -> None:
    same = smooth(1).expand(6, -1, -1, -1).contiguous()
    result = ms_ssim_diversity(same, torch.zeros(6, dtype=torch.long), pairs=20)
    assert result["pairs"] == 20 and abs(result["mean"] - 1) < 1e-9 and result["std"] < 1e-9
    random = ms_ssim_diversity(noise(6), torch.zeros(6, dtype=torch.long), pairs=20)
    assert random["mean"] < 0.2 and random["std"] >= 0


def test_pairs_are_distinct_images_of_one_group_and_singletons_are_skipped() -> None:
    groups = torch.tensor([3, 0, 3, 7, 0, 3, 9, 0, 3])  # 7 and 9 have one image each
    first, second = _draw_pairs(groups, 500, seed=0)
    assert (groups[first] == groups[second]).all() and (first != second).all()
    assert not set(first.tolist()) & {3, 6} and set(first.tolist()) == {0, 1, 2, 4, 5, 7, 8}
    # Through the public function: images identical within a group, different across groups.
    images = torch.cat([smooth(1, seed=int(g)) for g in groups])
    assert abs(ms_ssim_diversity(images, groups, pairs=40)["mean"] - 1) < 1e-9


def test_diversity_is_deterministic_by_seed() -> None:
    groups = torch.arange(12) // 4
    images = torch.cat([smooth(6, seed=1), noise(6, seed=2)])
    assert (ms_ssim_diversity(images, groups, pairs=30, seed=4)
            == ms_ssim_diversity(images, groups, pairs=30, seed=4))
    a, b = _draw_pairs(groups, 30, seed=4), _draw_pairs(groups, 30, seed=5)
    assert not (torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]))


def test_diversity_without_a_group_of_two_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 2 images"):
        ms_ssim_diversity(noise(3), torch.arange(3))


# --- CLIP score -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP (32 px images, 16 text positions) saved as CLIPModel + CLIPProcessor
    do."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-clip")
    # A byte-level BPE vocabulary of single letters (word-final ones end in </w>) and no merges:
    # enough for CLIPTokenizer, which reads vocab.json and merges.txt offline.
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    vocab.update({token: i + 2
                  for i, token in enumerate(list(letters) + [c + "</w>" for c in letters])})
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    config = CLIPConfig(text_config=dict(small, vocab_size=len(vocab), max_position_embeddings=16,
                                         bos_token_id=0, eos_token_id=1, pad_token_id=1),
                        vision_config=dict(small, image_size=32, patch_size=8), projection_dim=16)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


CAPTIONS = ["a red bird", "a small blue bird on a branch", "yellow", "zz",
            "the bird " * 20]  # the last is cut


def test_clip_score_is_in_range_deterministic_and_offline(clip_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect",
                        lambda *a: pytest.fail("the CLIP score touched the network"))
    scorer = load_clip(clip_dir)
    images = smooth(5, 48, 40)
    result = scorer.score(images, CAPTIONS, batch=2)
    assert result["count"] == 5 and 0 <= result["mean"] <= 100 and result["std"] >= 0
    assert scorer.score(images, CAPTIONS) == pytest.approx(result, abs=1e-5)
    assert (load_clip(str(clip_dir)).score(images, CAPTIONS, batch=3)
            == pytest.approx(result, abs=1e-5))


def test_clip_score_is_100_times_the_clamped_cosine(clip_dir: Path) -> None:
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(clip_dir, local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(clip_dir, local_files_only=True)
    scorer, images = load_clip(clip_dir), smooth(4, 40, 40, seed=7)
    # within the 16 positions: nothing to cut
    captions = ["a red bird", "yellow", "zz", "blue bird"]
    with torch.no_grad():
        pixels = processor.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
        text = processor.tokenizer(captions, padding=True, return_tensors="pt")
        image_out, text_out = (model.get_image_features(pixel_values=pixels),
                               model.get_text_features(**text))
    image_emb = getattr(image_out, "pooler_output", image_out)  # a tensor in transformers 4
    text_emb = getattr(text_out, "pooler_output", text_out)
    direct = 100 * F.cosine_similarity(image_emb, text_emb).clamp_min(0)  # (4,)
    for i in range(4):
        assert (scorer.score(images[i:i + 1], [captions[i]])["mean"]
                == pytest.approx(direct[i].item(), abs=1e-4))
    assert scorer.score(images, captions)["mean"] == pytest.approx(direct.mean().item(), abs=1e-4)


def test_clip_identity_names_the_folder_and_its_weights(clip_dir: Path) -> None:
    identity = load_clip(clip_dir).identity
    assert identity["path"] == str(clip_dir.resolve())
    expected = hashlib.sha256((clip_dir / "model.safetensors").read_bytes()).hexdigest()
    assert identity["weights_sha256"] == {"model.safetensors": expected}


def test_clip_folder_errors_are_user_errors(clip_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no CLIP model there"):
        load_clip(tmp_path / "missing")
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (other / "model.safetensors").write_bytes(b"")
    with pytest.raises(UserError, match="'bert' model, not CLIP"):
        load_clip(other)
    bare = tmp_path / "no-tokenizer"  # a CLIP model without its processor files
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        (bare / name).write_bytes((clip_dir / name).read_bytes())
    with pytest.raises(UserError, match="tokenizer or image processor") as error:
        load_clip(bare)
    assert "\n" not in str(error.value)  # one line on stderr


def test_evaluate_reports_the_clip_score_with_the_folder_it_used(clip_dir: Path,
                                                                 tmp_path: Path) -> None:
    from conftest import TINY
    from t2igan.cli import main

    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *TINY, "--steps", "2"]) == 0
    assert main(["evaluate", "--run", str(run), "--metrics", "clip-score",
                 "--clip-model", str(clip_dir), "--num-samples", "10"]) == 0
    result = json.loads((run / "eval.json").read_text())["metrics"]["clip-score"]
    assert 0 <= result["value"] <= 100 and str(clip_dir) in result["protocol"]
