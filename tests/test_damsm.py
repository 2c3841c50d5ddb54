"""DAMSM encoders: tokeniser, losses, pretraining, the encoder folder and what it encodes."""

import json
import math
import os
import signal

import pytest
import torch
import torch.nn.functional as F

from t2igan.config import PretrainConfig
from t2igan.data.memory import load_into_memory
from t2igan.data.synthetic import SyntheticCaptions
from t2igan.errors import UserError
from t2igan.metrics.r_precision import r_precision
from t2igan.text.damsm import (
    PAD,
    UNK,
    WORDS_NUM,
    Vocabulary,
    load_damsm,
    sentence_loss,
    tokenize,
    weights_bytes,
    word_loss,
)
from t2igan.training.damsm import DAMSMTrainer, EncoderInterrupted, pretrain_damsm

SIZE = (32, 32)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Two threads on two shared cores spin against each other (20x slower LSTMs); one is steady."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pretraining(**settings) -> PretrainConfig:
    return PretrainConfig(data="synthetic", image_size=f"{SIZE[0]}x{SIZE[1]}", **settings)


@pytest.fixture(scope="module")
def tiny_data():
    return load_into_memory(SyntheticCaptions("train", SIZE, seed=0, length=24), progress=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An encoder pretrained for 60 steps on 256 synthetic images: a few seconds on one core."""
    out = tmp_path_factory.mktemp("enc") / "damsm"
    summary = pretrain_damsm(pretraining(epochs=4, batch_size=16, num_images=256), out,
                             progress=False)
    return out, summary


def test_tokenizer_and_vocabulary():
    assert tokenize("A black-and-white Cat, 2 eyes!") == ["a", "black", "and", "white", "cat",
                                                          "2", "eyes"]
    vocab = Vocabulary.build(["a black cat", "A red car"])
    assert vocab.words[:2] == ["<pad>", "<unk>"] and len(vocab) == 2 + 5
    tokens, lengths = vocab.encode(["a black zebra", "", "cat " * 30])
    assert tokens[0].tolist() == ([vocab.index["a"], vocab.index["black"], UNK]
                                  + [PAD] * (WORDS_NUM - 3))
    # an empty caption is one unknown word; long ones are cut
    assert lengths.tolist() == [3, 1, WORDS_NUM]
    assert tokens[1, 0] == UNK and tokens.shape == (3, WORDS_NUM)


def _matched(b=6, d=16, t=5, grid=4, seed=0):
    """Words and regions where image i's regions hold caption i's words (plus noise)."""
    g = torch.Generator().manual_seed(seed)
    words = torch.randn(b, d, t, generator=g)
    regions = torch.randn(b, d, grid * grid, generator=g) * 0.3
    regions[:, :, :t] += words
    lengths = torch.tensor([t, t - 1, t, 2, t, 3][:b])
    return words, regions.view(b, d, grid, grid), lengths


def test_losses_prefer_matching_pairs():
    words, regions, lengths = _matched()
    shuffled = regions.roll(1, dims=0)
    assert word_loss(regions, words, lengths) < word_loss(shuffled, words, lengths) - 1
    sentences = words.mean(2)
    codes = sentences + 0.1 * torch.randn_like(sentences)
    assert sentence_loss(codes, sentences) < sentence_loss(codes.roll(1, dims=0), sentences) - 1
    # With class labels, other pairs of the same class are no negatives: one class leaves nothing
    # to lose.
    assert sentence_loss(codes.roll(1, dims=0), sentences, torch.zeros(6, dtype=torch.long)) == 0


def _word_loss_by_pairs(regions, words, lengths, g1=4.0, g2=5.0, g3=10.0):
    """The word loss written out caption by caption, as AttnGAN's description reads."""
    b = len(words)
    v = regions.flatten(2)  # (B, D, R)
    match = torch.zeros(b, b)  # [image j, caption i]
    for i in range(b):
        e = words[i, :, :lengths[i]]  # (D, T_i)
        for j in range(b):
            attn = (v[j].t() @ e).softmax(dim=1)  # (R, T_i): normalised over words
            attn = (g1 * attn.t()).softmax(dim=1)  # (T_i, R): over regions
            context = v[j] @ attn.t()  # (D, T_i)
            cos = F.cosine_similarity(context, e, dim=0)
            match[j, i] = torch.log(torch.exp(g2 * cos).sum()) / g2
    target = torch.arange(b)
    return F.cross_entropy(g3 * match, target) + F.cross_entropy(g3 * match.t(), target)


def test_word_loss_matches_the_written_out_definition():
    words, regions, lengths = _matched(seed=3)
    regions = regions + torch.randn_like(regions)
    assert torch.allclose(word_loss(regions, words, lengths),
                          _word_loss_by_pairs(regions, words, lengths), atol=1e-4)


def test_same_seed_same_weights(tiny_data):
    def run():
        trainer = DAMSMTrainer(tiny_data.images, tiny_data.captions, SIZE, batch_size=8, seed=5)
        for _ in range(2):
            trainer.train_step()
        return weights_bytes(trainer.text, trainer.image)

    assert run() == run()


def test_saved_folder_round_trips(tiny_data, tmp_path):
    trainer = DAMSMTrainer(tiny_data.images, tiny_data.captions, SIZE, batch_size=8)
    trainer.train_step()
    live = trainer.frozen()
    trainer.save(tmp_path / "enc", {})
    loaded = load_damsm(tmp_path / "enc")
    assert loaded.identity == live.identity
    assert loaded.identity["kind"] == "damsm" and loaded.identity["image_size"] == [32, 32]
    texts = ["a black cat on a rug", "a red sports car", "an unheardof zebra"]
    assert torch.equal(loaded.encode_texts(texts), live.encode_texts(texts))
    assert torch.equal(loaded.encode_images(tiny_data.images[:5]),
                       live.encode_images(tiny_data.images[:5]))


def test_encoders_shapes_and_determinism(trained, tiny_data):
    model = load_damsm(trained[0])
    images = tiny_data.images[:6]
    codes = model.encode_images(images)
    assert codes.shape == (6, model.dim) and codes.dtype == torch.float32
    assert torch.equal(codes, model.encode_images(images))
    # batches are independent
    assert torch.allclose(codes, model.encode_images(images, batch=4), atol=1e-4)
    # any size is resized
    big = F.interpolate(images.float(), size=(64, 48), mode="nearest").to(torch.uint8)
    assert model.encode_images(big).shape == (6, model.dim)
    texts = [caps[0] for caps in tiny_data.captions[:6]]
    sentences = model.encode_texts(texts)
    assert sentences.shape == (6, model.dim) and torch.equal(sentences, model.encode_texts(texts))
    assert torch.allclose(sentences[:2], model.encode_texts(texts[:2]), atol=1e-4)  # nor padding
    assert model.encode_texts([]).shape == (0, model.dim)


def test_pretraining_writes_a_folder_that_learned(trained):
    out, summary = trained
    assert summary["steps"] == 60 and summary["images_per_s"] > 0
    assert (summary["loss_word"] > 0 and summary["loss_sentence"] > 0
            and 0 <= summary["val_top1"] <= 1)
    meta = json.loads((out / "damsm.json").read_text())
    assert (meta["steps"] == 60 and meta["val_top1"] == summary["val_top1"]
            and "cat" in meta["vocab"])
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "damsm.json",
                                                     "damsm.safetensors"]
    # the settings, as `t2igan train` keeps them
    config = json.loads((out / "config.json").read_text())
    assert (config["epochs"], config["batch_size"], config["num_images"],
            config["image_size"]) == (4, 16, 256, "32x32")
    model = load_damsm(out)
    # Held-out scenes: each image's own caption must beat 7 random others far more often than 1/8.
    test = load_into_memory(SyntheticCaptions("test", SIZE, seed=0, length=120), progress=False)
    top1 = r_precision(model.encode_images(test.images),
                       model.encode_texts([caps[0] for caps in test.captions]),
                       candidates=8, splits=1)["mean"]
    assert top1 > 0.3, top1


def test_missing_or_unfinished_folder_is_a_user_error(trained, tmp_path):
    with pytest.raises(UserError, match="t2igan text pretrain --data DATA --out"):
        load_damsm(tmp_path / "nothing")
    half = tmp_path / "half"
    half.mkdir()
    (half / "damsm.safetensors").write_bytes((trained[0] / "damsm.safetensors").read_bytes())
    with pytest.raises(UserError, match="no damsm.json"):
        load_damsm(half)
    (half / "damsm.json").write_text((trained[0] / "damsm.json").read_text())
    (half / "damsm.safetensors").write_bytes(b"not weights")
    with pytest.raises(UserError, match="not a usable DAMSM encoder"):
        load_damsm(half)


def test_bad_settings_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="batch-size"):
        pretrain_damsm(pretraining(batch_size=1, num_images=24), tmp_path / "e", progress=False)


def _stop_at(monkeypatch, step, how):
    real = DAMSMTrainer.train_step

    def step_then_stop(self):
        if self.step + 1 == step:
            if how == "signal":
                # caught as a request: this step finishes, then it saves
                os.kill(os.getpid(), signal.SIGINT)
            else:
                raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(DAMSMTrainer, "train_step", step_then_stop)


@pytest.mark.parametrize("how", ["signal", "keyboard"])
def test_interrupt_saves_what_was_trained(monkeypatch, tmp_path, how):
    _stop_at(monkeypatch, 3, how)
    with pytest.raises(EncoderInterrupted if how == "signal" else KeyboardInterrupt):
        pretrain_damsm(pretraining(batch_size=4, num_images=24), tmp_path / "enc", progress=False)
    meta = json.loads((tmp_path / "enc" / "damsm.json").read_text())
    assert meta["interrupted"] is True and meta["steps"] == (3 if how == "signal" else 2)
    assert math.isfinite(meta["loss"])
    assert load_damsm(tmp_path / "enc").encode_texts(["a cat"]).shape == (1, 256)
