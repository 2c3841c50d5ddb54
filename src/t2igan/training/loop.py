"""The training loop: a D phase and a G phase per step, checkpoints, samples and logs.

What a run leaves on disk is described in t2igan.runs; what a model must provide, in
t2igan.models.base (networks) and t2igan.models.objective (losses).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from t2igan import __version__, losses, runs
from t2igan.augment import seen_through
from t2igan.config import TrainConfig
from t2igan.data.memory import class_labels, load_into_memory, open_dataset
from t2igan.data.sources import count_reasons
from t2igan.errors import UserError
from t2igan.images import save_png, to_model
from t2igan.interrupts import Interrupted, stop_requests
from t2igan.models import build_networks, get_model, resolve
from t2igan.models.base import Noise
from t2igan.models.objective import Batch
from t2igan.pretrained import packaged_file
from t2igan.runtime import resolve_device, seed_process
from t2igan.sampling import SAMPLE_PROMPTS, prompt_grid
from t2igan.text import embed_texts
from t2igan.training.ema import EMA
from t2igan.training.evaluation import TrainingEvaluation
from t2igan.training.warm_start import (
    backbone_record,
    check_backbone,
    init_source,
    start_from,
)


class CaptionTable:
    """Every caption's sentence vector, flat, with each image's slice: (first, count)."""

    def __init__(self, captions: list[list[str]], vectors: torch.Tensor,
                 device: torch.device) -> None:
        self.vectors = vectors.to(device)  # (M, text_dim), the captions flattened in order
        counts = torch.tensor([len(caps) for caps in captions])
        self.count = counts.to(device)
        self.first = (torch.cumsum(counts, 0) - counts).to(device)

    def sample(self, images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """One random caption vector per image index: (B,) -> (B, text_dim)."""
        pick = (torch.rand(len(images), generator=rng, device=rng.device)
                * self.count[images]).long()
        return self.vectors[self.first[images] + pick]


def _distinct(texts: list[str], count: int) -> list[str]:
    """The first `count` different texts (class-templated data repeats one caption many times)."""
    return list(dict.fromkeys(texts))[:count]


@contextmanager
def frozen(network: nn.Module) -> Iterator[None]:
    """No gradients for `network`'s parameters inside the block (G's phase needs gradients through
    D, not D's own); afterwards each parameter's requires_grad is what it was, so a part that was
    frozen to begin with (a pretrained backbone) stays frozen."""
    before = [(p, p.requires_grad) for p in network.parameters()]
    network.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, requires_grad in before:
            parameter.requires_grad_(requires_grad)


def _trainable(network: nn.Module) -> list[nn.Parameter]:
    # frozen parts never reach an optimizer
    return [p for p in network.parameters() if p.requires_grad]


class Trainer:
    def __init__(self, cfg: TrainConfig, run: Path, progress: bool = True) -> None:
        self.cfg = cfg = resolve(cfg)
        spec = get_model(cfg.model)
        self.run, self.progress = Path(run), progress
        self.device = resolve_device(cfg.device)
        if cfg.d_backbone != "none":
            packaged_file(cfg.d_backbone)  # a missing or damaged package fails before the data
        self.evaluation = TrainingEvaluation(cfg) if cfg.eval_every else None
        seed_process(cfg.seed)
        dataset = open_dataset(cfg.data, cfg.size, "train", cfg.seed, cfg.source_options(), cfg.fit)
        data = load_into_memory(dataset, cfg.num_images, progress)
        # all reading happens here, before step 0: a bad file never stops a run mid-way
        if data.skipped:
            print(f"skipped {len(data.skipped)} unusable files ({count_reasons(data.skipped)}); "
                  f"`t2igan data check {cfg.data}` lists them", file=sys.stderr)
        # uint8 on the CPU (a memory map for caches); batches go to the device
        self.images = data.images
        self.prompts = (SAMPLE_PROMPTS if cfg.data == "synthetic"
                        else _distinct([c[0] for c in data.captions], 8))
        self.prompt_vectors = embed_texts(self.prompts, cfg.text_encoder)
        # a cache's, already computed
        vectors = data.vectors if data.text_encoder == cfg.text_encoder else None
        if vectors is None:
            vectors = embed_texts([c for caps in data.captions for c in caps], cfg.text_encoder)
        self.table = CaptionTable(data.captions, vectors, self.device)
        self.text_dim = self.table.vectors.shape[1]
        self.classes, self.labels = [], None
        if spec.needs_labels:
            self.classes, labels = class_labels(data.attributes, cfg.label)
            self.labels = labels.to(self.device)
        G, D = build_networks(self.text_dim, cfg, len(self.classes))
        if spec.warm_start:
            spec.warm_start(G, cfg)
        self.G = G.to(self.device, memory_format=torch.channels_last)
        self.D = D.to(self.device, memory_format=torch.channels_last)
        self.augment_rng = torch.Generator(self.device).manual_seed(cfg.seed + 2)
        # D as the objectives see it
        self.critic = seen_through(self.D, cfg.augment, self.augment_rng)
        self.ema = EMA(self.G, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.objective = spec.objective(cfg)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(_trainable(self.G), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(_trainable(self.D), lr=cfg.lr_d, betas=betas)
        self.batch_rng = torch.Generator(self.device).manual_seed(cfg.seed)
        self.noise_rng = torch.Generator(self.device).manual_seed(cfg.seed + 1)
        self.noise = Noise(self.G.noise_dim, self.noise_rng)
        self.step = 0
        self.saved_step: int | None = None  # the step of the newest checkpoint on disk

    # -- one step ---------------------------------------------------------------------------
    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.bfloat16,
                              enabled=self.cfg.precision == "bf16")

    def next_batch(self) -> Batch:
        index = torch.randint(len(self.images), (self.cfg.batch_size,), generator=self.batch_rng,
                              device=self.device)
        images = self.images[index.cpu()].to(self.device, non_blocking=True)
        real = to_model(images).contiguous(memory_format=torch.channels_last)  # (B, 3, H, W)
        text = self.table.sample(index, self.batch_rng)  # (B, text_dim)
        return Batch(real, text, None if self.labels is None else self.labels[index])

    def train_step(self) -> dict[str, float]:
        batch = self.next_batch()
        with self.autocast():
            loss_d, stats = self.objective.discriminator_loss(self.G, self.critic, batch,
                                                              self.noise)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        with frozen(self.D):
            with self.autocast():
                loss_g, g_stats = self.objective.generator_loss(self.G, self.critic, batch,
                                                                self.noise)
                if self.cfg.mode_seeking > 0:
                    diverse = self.mode_seeking(batch.text)
                    loss_g = loss_g + self.cfg.mode_seeking * diverse
                    g_stats["g_mode_seeking"] = diverse.item()
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        if self.ema:
            self.ema.update(self.G, self.step)
        self.step += 1
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), **stats, **g_stats}

    def mode_seeking(self, text: torch.Tensor) -> torch.Tensor:
        """MSGAN's term for half the batch's captions, each drawn with two noise vectors."""
        half = text[: len(text) // 2]
        z = self.noise(2 * len(half))
        fake = self.G(z, torch.cat([half, half]))  # (2 * B/2, 3, H, W)
        return losses.mode_seeking_loss(*fake.chunk(2), *z.chunk(2))

    # -- state -----------------------------------------------------------------------------
    def meta(self) -> dict:
        return {"config": self.cfg.to_dict(), "model": self.cfg.model, "text_dim": self.text_dim,
                "image_size": list(self.cfg.size), "classes": self.classes,
                "d_backbone": backbone_record(self.cfg), "t2igan_version": __version__}

    def networks(self) -> dict[str, nn.Module]:
        """What a checkpoint holds: G, D and, when on, the EMA generator that samples ("G_ema")."""
        return {"G": self.G, "D": self.D, **({"G_ema": self.ema.model} if self.ema else {})}

    def save(self) -> Path:
        state = {"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                 "batch_rng": self.batch_rng.get_state(), "noise_rng": self.noise_rng.get_state(),
                 "augment_rng": self.augment_rng.get_state()}
        path = runs.save_checkpoint(self.run, self.step, self.networks(), self.meta(), state,
                                    self.cfg.keep_checkpoints)
        self.saved_step = self.step
        return path

    def restore(self, checkpoint: runs.Checkpoint) -> None:
        runs.apply_weights(checkpoint, self.networks())
        state = checkpoint.state
        try:
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.batch_rng.set_state(state["batch_rng"])
            self.noise_rng.set_state(state["noise_rng"])
            if "augment_rng" in state:  # checkpoints of t2igan before --augment have none
                self.augment_rng.set_state(state["augment_rng"])
        except (KeyError, ValueError, RuntimeError):
            raise UserError(f"checkpoint file {checkpoint.path / 'state.pt'} "
                            "does not fit this run") from None
        self.step = self.saved_step = checkpoint.meta["step"]

    @contextmanager
    def sampling_generator(self) -> Iterator[nn.Module]:
        """The generator that samples and is evaluated (the EMA one when kept), in eval mode."""
        G = self.ema.model if self.ema else self.G.eval()
        try:
            yield G
        finally:
            self.G.train()

    def sample(self) -> Path:
        with self.sampling_generator() as G:
            grid = prompt_grid(G, self.prompts, self.prompt_vectors, 8, self.cfg.seed)
        return save_png(grid, runs.sample_path(self.run, self.step))

    def evaluate(self) -> dict[str, float]:
        with self.sampling_generator() as G:
            return self.evaluation(G)

    # -- the loop --------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train until cfg.steps or cfg.max_minutes; on SIGINT/SIGTERM save, then raise
        Interrupted."""
        cfg, start, seen, last = self.cfg, time.monotonic(), 0, {}
        deadline = start + cfg.max_minutes * 60 if cfg.max_minutes else float("inf")
        log = open(self.run / runs.LOG, "a", encoding="utf-8")
        # With a time budget the step limit is usually a far-off cap: count steps, show
        # minutes left.
        bar = tqdm(total=None if cfg.max_minutes else cfg.steps, initial=self.step, desc="training",
                   unit="step", disable=not self.progress)
        with stop_requests() as stop, log, bar:
            while self.step < cfg.steps and time.monotonic() < deadline:
                last = self.train_step()
                seen += cfg.batch_size
                rate = seen / max(time.monotonic() - start, 1e-9)
                bar.update(1)
                left = ({"min_left": f"{(deadline - time.monotonic()) / 60:.1f}"}
                        if cfg.max_minutes else {})
                bar.set_postfix(d=f"{last['loss_d']:.3f}", g=f"{last['loss_g']:.3f}",
                                img_s=f"{rate:.0f}", **left)
                if self.step % cfg.log_every == 0:
                    log.write(json.dumps({"step": self.step, **last,
                                          "images_per_s": round(rate, 1)}) + "\n")
                    log.flush()
                if self.step % cfg.sample_every == 0:
                    self.sample()
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                if cfg.eval_every and self.step % cfg.eval_every == 0:
                    scores = self.evaluate()
                    log.write(json.dumps({"step": self.step, "eval": scores,
                                          "eval_samples": cfg.eval_samples}) + "\n")
                    log.flush()
                    bar.write(f"step {self.step} ({cfg.eval_samples:,} samples): "
                              + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
                if stop:
                    if self.saved_step != self.step:
                        self.save()
                    raise Interrupted(stop[0], self.step)
        if self.saved_step != self.step:
            self.save()
        samples = self.sample()
        minutes = (time.monotonic() - start) / 60
        return {"step": self.step, "minutes": round(minutes, 2),
                "images_per_s": round(seen / max(minutes * 60, 1e-9), 1),
                "samples": str(samples), **last}


def train(cfg: TrainConfig, run: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train a model into a run folder (or continue it with resume=True); returns a summary."""
    run = Path(run)
    # fail before loading data
    checkpoint = runs.load_checkpoint(runs.latest_checkpoint(run)) if resume else None
    if checkpoint:
        check_backbone(checkpoint)
    source = init_source(Path(cfg.init_from), resolve(cfg)) \
        if cfg.init_from and not resume else None
    if not resume and runs.list_checkpoints(run):
        raise UserError(f"{run} already holds a run; pass --resume to continue it "
                        "or choose another --out")
    run.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(cfg, run, progress)
    if checkpoint:
        trainer.restore(checkpoint)
    elif source:
        start_from(source, trainer.networks())
    runs.write_config(run, trainer.cfg)  # resolved: every value used
    return trainer.fit()
