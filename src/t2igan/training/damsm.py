"""`t2igan text pretrain`: train a DAMSM encoder pair on the user's data (AttnGAN's
pretrain_DAMSM.py, small and from scratch), for R-precision and a domain FID (t2igan.text.damsm
holds the networks).

Each step draws a batch of training images with one random caption each, and minimises DAMSM's word
loss plus sentence loss: every caption must pick out its image among the batch, and every image its
caption, both from single words attending to regions and from the whole sentence.

    ENC/config.json        the settings it was trained with (PretrainConfig)
    ENC/damsm.safetensors  both encoders' weights
    ENC/damsm.json         vocabulary, architecture, recipe, results: written last
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import time
from collections import deque
from pathlib import Path

import torch
from tqdm import tqdm

from t2igan.config import PretrainConfig
from t2igan.data.memory import class_labels, load_into_memory, open_dataset
from t2igan.errors import UserError
from t2igan.files import write_bytes, write_json
from t2igan.images import to_model
from t2igan.interrupts import Interrupted, stop_requests
from t2igan.metrics.r_precision import r_precision
from t2igan.runtime import seed_process
from t2igan.text.damsm import (
    ARCHITECTURE,
    DAMSM,
    META,
    WEIGHTS,
    Vocabulary,
    build_encoders,
    sentence_loss,
    weights_bytes,
    word_loss,
)

VAL_FRACTION = 0.05
RNN_GRAD_CLIP = 0.25  # AttnGAN clips the LSTM's gradient norm: its loss spikes early otherwise
LR_DECAY = 0.98  # per epoch, down to a tenth of the start, as AttnGAN


class EncoderInterrupted(Interrupted):
    """Pretraining stopped by SIGINT or SIGTERM after saving the encoder trained so far."""

    def __init__(self, signum: int, step: int, out: Path) -> None:
        super().__init__(signum, step, f"the encoder trained so far is saved in {out}")


class DAMSMTrainer:
    """Both encoders, their optimiser and the captioned images as tensors, tokenised once."""

    def __init__(self, images: torch.Tensor, captions: list[list[str]],
                 image_size: tuple[int, int], *, batch_size: int = 48, lr: float = 2e-3,
                 seed: int = 0, labels: torch.Tensor | None = None) -> None:
        # (N, 3, H, W) uint8; N lists
        self.images, self.captions, self.labels = images, captions, labels
        self.image_size, self.batch_size, self.lr, self.seed = \
            tuple(image_size), batch_size, lr, seed
        self.vocab = Vocabulary.build(caption for caps in captions for caption in caps)
        flat = [caption for caps in captions for caption in caps]
        # (M, T), (M,): every caption, flattened in order
        self.tokens, self.lengths = self.vocab.encode(flat)
        counts = torch.tensor([len(caps) for caps in captions])
        # image i: captions first[i] + [0, count[i])
        self.count, self.first = counts, torch.cumsum(counts, 0) - counts
        seed_process(seed)  # same seed, same initial weights and dropout masks
        self.text, self.image = build_encoders(len(self.vocab), self.image_size, ARCHITECTURE)
        self.image = self.image.to(memory_format=torch.channels_last)  # faster convolutions on CPUs
        self.optimizer = torch.optim.Adam([*self.text.parameters(), *self.image.parameters()],
                                          lr=lr, betas=(0.5, 0.999))
        self.rng = torch.Generator().manual_seed(seed)
        self.order: list[torch.Tensor] = []  # the rest of this epoch's shuffled batches
        self.step, self.epoch = 0, 0

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.images) // self.batch_size)

    def next_batch(self) -> torch.Tensor:
        """Image indices (B,): each epoch visits every image once, in a fresh order (last partial
        batch dropped)."""
        if not self.order:
            if self.step:
                self.epoch += 1
                # AttnGAN: x0.98 an epoch while above lr/10
                for group in self.optimizer.param_groups:
                    if group["lr"] > self.lr / 10:
                        group["lr"] *= LR_DECAY
            perm = torch.randperm(len(self.images), generator=self.rng)
            self.order = list(perm[:self.steps_per_epoch * self.batch_size]
                              .view(-1, self.batch_size).unbind())
        return self.order.pop(0)

    def train_step(self) -> dict[str, float]:
        index = self.next_batch()
        pick = self.first[index] + (torch.rand(len(index), generator=self.rng)
                                    * self.count[index]).long()
        lengths = self.lengths[pick]  # one random caption of each image
        tokens = self.tokens[pick, :int(lengths.max())]  # (B, T)
        # (B, 3, H, W)
        images = to_model(self.images[index]).contiguous(memory_format=torch.channels_last)
        labels = None if self.labels is None else self.labels[index]
        self.text.train(), self.image.train()
        words, sentence = self.text(tokens, lengths)  # (B, 256, T), (B, 256)
        regions, code = self.image(images)  # (B, 256, h, w), (B, 256)
        w_loss = word_loss(regions, words, lengths, labels)
        s_loss = sentence_loss(code, sentence, labels)
        self.optimizer.zero_grad(set_to_none=True)
        (w_loss + s_loss).backward()
        torch.nn.utils.clip_grad_norm_(self.text.lstm.parameters(), RNN_GRAD_CLIP)
        self.optimizer.step()
        self.step += 1
        return {"loss_word": w_loss.item(), "loss_sentence": s_loss.item()}

    def frozen(self) -> DAMSM:
        """A frozen copy of the encoders as they are now (training can go on)."""
        data = weights_bytes(self.text, self.image)
        return DAMSM(copy.deepcopy(self.text),
                     copy.deepcopy(self.image).to(memory_format=torch.contiguous_format),
                     self.vocab, self.image_size, hashlib.sha256(data).hexdigest())

    def save(self, out: Path, meta: dict) -> Path:
        """Weights, then the JSON by rename, so a folder is only ever loaded whole."""
        out.mkdir(parents=True, exist_ok=True)
        (out / META).unlink(missing_ok=True)  # new weights must never pair with an old JSON
        data = weights_bytes(self.text, self.image)
        meta = {**meta, "vocab": self.vocab.words[2:], "architecture": ARCHITECTURE,
                "image_size": list(self.image_size), "steps": self.step, "epochs": self.epoch,
                "weights_sha256": hashlib.sha256(data).hexdigest()}
        write_bytes(out / WEIGHTS, data)
        write_bytes(out / META, json.dumps(meta, indent=2).encode())
        return out


def validation_top1(model: DAMSM, images: torch.Tensor, captions: list[list[str]],
                    seed: int = 0) -> tuple[float, int]:
    """Top-1 retrieval of each held-out image's caption (one chosen at random) among up to 100
    candidates."""
    rng = torch.Generator().manual_seed(seed)
    chosen = [caps[int(torch.randint(len(caps), (1,), generator=rng))] for caps in captions]
    if len(images) < 2:
        return float("nan"), len(images)
    candidates = min(100, len(images))
    result = r_precision(model.encode_images(images), model.encode_texts(chosen),
                         candidates=candidates, splits=1, seed=seed)
    return result["mean"], candidates


def pretrain_damsm(cfg: PretrainConfig, out: str | Path, progress: bool = True) -> dict:
    """Train a DAMSM pair on cfg.data ('synthetic', a prepared cache or a dataset folder) into the
    folder `out`.

    Stops after cfg.epochs passes or cfg.max_minutes, whichever is first; SIGINT/SIGTERM saves, then
    raises EncoderInterrupted. cfg.label names attributes (e.g. 'subject+color') whose equal values
    are not negatives; cfg.num_images caps the images read (the synthetic data would render
    100,000).
    """
    out = Path(out)
    dataset = open_dataset(cfg.data, cfg.size, "train", cfg.seed, cfg.source_options(), cfg.fit)
    tensors = load_into_memory(dataset, cfg.num_images, progress=progress)
    n = len(tensors.images)
    n_val = max(2, round(n * VAL_FRACTION)) if n >= 20 else 0  # tiny sets: every image trains
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed))
    val, train = perm[:n_val], perm[n_val:]
    if len(train) < cfg.batch_size:
        raise UserError(f"--batch-size {cfg.batch_size} is more than the {len(train)} training "
                        "images; lower it")
    labels = class_labels(tensors.attributes, cfg.label)[1][train] if cfg.label else None
    trainer = DAMSMTrainer(tensors.images[train], [tensors.captions[i] for i in train], cfg.size,
                           batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed, labels=labels)
    write_json(out / "config.json", dataclasses.asdict(cfg))
    meta = {"data": {"images": n, "train_images": len(train), "val_images": n_val},
            "recipe": {"betas": [0.5, 0.999], "lr_decay_per_epoch": LR_DECAY,
                       "rnn_grad_clip": RNN_GRAD_CLIP, "gammas": [4.0, 5.0, 10.0],
                       "val_fraction": VAL_FRACTION}}
    recent: deque[dict] = deque(maxlen=50)  # the final losses are averaged over the last 50 steps

    def losses() -> dict[str, float]:
        if not recent:
            return {}
        mean = {key: sum(r[key] for r in recent) / len(recent) for key in recent[0]}
        return {**{k: round(v, 4) for k, v in mean.items()}, "loss": round(sum(mean.values()), 4)}

    total = cfg.epochs * trainer.steps_per_epoch
    start = time.monotonic()
    deadline = start + cfg.max_minutes * 60 if cfg.max_minutes else math.inf
    bar = tqdm(total=total, desc="pretraining DAMSM", unit="step", disable=not progress)
    try:
        with stop_requests() as stop, bar:
            while trainer.step < total and time.monotonic() < deadline and not stop:
                recent.append(trainer.train_step())
                rate = trainer.step * cfg.batch_size / max(time.monotonic() - start, 1e-9)
                bar.update(1)
                bar.set_postfix(w=f"{recent[-1]['loss_word']:.3f}",
                                s=f"{recent[-1]['loss_sentence']:.3f}", img_s=f"{rate:.0f}")
    except KeyboardInterrupt:
        # a second Ctrl-C, or signals not ours to catch: still keep what was trained
        trainer.save(out, {**meta, **losses(), "interrupted": True})
        raise
    seconds = time.monotonic() - start
    if stop:
        trainer.save(out, {**meta, **losses(), "interrupted": True})
        raise EncoderInterrupted(stop[0], trainer.step, out)
    top1, candidates = validation_top1(trainer.frozen(), tensors.images[val],
                                       [tensors.captions[i] for i in val], cfg.seed)
    result = {"val_top1": None if math.isnan(top1) else round(top1, 4),
              "val_candidates": candidates}
    trainer.save(out, {**meta, **losses(), **result, "seconds": round(seconds, 1)})
    return {"steps": trainer.step, "epochs": round(trainer.step / trainer.steps_per_epoch, 2),
            "seconds": round(seconds, 1),
            "images_per_s": round(trainer.step * cfg.batch_size / max(seconds, 1e-9), 1),
            **losses(), **result, "vocab_size": len(trainer.vocab), "out": str(out)}
