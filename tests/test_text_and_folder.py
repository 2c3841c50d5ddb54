import json
from pathlib import Path

import pytest
import torch

from t2igan.cli import main
from t2igan.data.dataset import CaptionedImages
from t2igan.data.sources import open_source
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.text import embed_texts


class CountingEncoder:
    """A stand-in encoder that records what it was asked to encode."""

    name, dim = "counting-test-encoder", 3

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> torch.Tensor:
        self.seen += texts
        return torch.tensor([[len(t), t.count("a"), 1.0] for t in texts])


def test_embeddings_are_cached_by_text_and_encoder(tmp_path: Path) -> None:
    encoder = CountingEncoder()
    first = embed_texts(["a cat", "a red car", "a cat"], encoder, store_dir=tmp_path)
    assert sorted(encoder.seen) == ["a cat", "a red car"]  # duplicates are encoded once
    again = embed_texts(["a red car", "a cat", "a van"], encoder, store_dir=tmp_path)
    assert encoder.seen[2:] == ["a van"]  # only the new text reaches the encoder
    assert torch.equal(again[0], first[1]) and torch.equal(again[1], first[0])
    other = CountingEncoder()
    other.name = "another-encoder"
    embed_texts(["a cat"], other, store_dir=tmp_path)
    assert other.seen == ["a cat"]  # the cache key includes the encoder


def test_the_store_is_read_once_per_process_and_keeps_what_other_processes_added(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from t2igan.text import encoder as module

    encoder, reads = CountingEncoder(), []
    encoder.name = "store-test"
    real_load = module.load_file
    monkeypatch.setattr(module, "load_file", lambda path: reads.append(path) or real_load(path))
    for _ in range(3):
        embed_texts(["a cat"], encoder, store_dir=tmp_path)
    assert encoder.seen == ["a cat"] and reads == []  # encoded once; the file was never read back
    path = tmp_path / "store-test.safetensors"
    other_process = module.EmbeddingStore(path)  # its own copy, as another process has
    other_process.add(["a dog"], torch.ones(1, 3))
    other_process.save()
    embed_texts(["a van"], encoder, store_dir=tmp_path)  # this process saves again...
    monkeypatch.setattr(module, "_STORES", {})  # ... and a new process reads the file
    embed_texts(["a cat", "a dog", "a van"], encoder, store_dir=tmp_path)
    # nothing was lost: the dog came from the other process
    assert encoder.seen == ["a cat", "a van"]


def test_pretrained_encoder_reads_free_text_offline() -> None:
    vectors = embed_texts(["a ginger cat lying on a blue rug",
                           "an orange kitten lying on a blue carpet",
                           "a red pickup truck on a street at night"])
    assert vectors.shape == (3, 384)
    # Unit RMS per element: the scale of the noise the vectors join in G (norm sqrt(384)).
    assert torch.allclose(vectors.square().mean(dim=1), torch.ones(3), atol=1e-3)
    cosine = torch.nn.functional.cosine_similarity
    assert cosine(vectors[0], vectors[1], dim=0) > cosine(vectors[0], vectors[2], dim=0) + 0.2


def test_captioned_folder_round_trips(tmp_path: Path) -> None:
    source = SyntheticCaptions("train", (48, 32), seed=3, length=5)
    assert main(["data", "synth", "--out", str(tmp_path / "d"), "--num", "5", "--size", "48x32",
                 "--seed", "3"]) == 0
    folder = CaptionedImages(open_source(tmp_path / "d"), (48, 32))
    assert len(folder) == 5
    for i in range(5):
        image, captions, attributes = folder[i]
        expected_image, expected_captions, expected_attributes = source[i]
        # PNG is lossless and the size matches: exact pixels
        assert torch.equal(image, expected_image)
        assert captions == expected_captions
        assert attributes["color"] == expected_attributes["color"]
    lines = (tmp_path / "d" / "captions.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["file"] == "images/000000.png"


def test_captioned_folder_resizes_and_reports_bad_manifest_lines(tmp_path: Path) -> None:
    main(["data", "synth", "--out", str(tmp_path / "d"), "--num", "2", "--size", "64x64"])
    source = open_source(tmp_path / "d")
    assert source.format == "captioned-folder"
    image, _, _ = CaptionedImages(source, (32, 24))[0]
    assert image.shape == (3, 24, 32) and image.dtype == torch.uint8
    manifest = tmp_path / "d" / "captions.jsonl"
    manifest.write_text('{"file": "images/000000.png"}\n'
                        + manifest.read_text().splitlines()[1] + "\n")
    source = open_source(tmp_path / "d")
    assert len(source.entries) == 1
    assert (source.skipped[0].name == "captions.jsonl line 1"
            and "bad manifest line" in source.skipped[0].reason)
