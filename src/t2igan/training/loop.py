"""The training loop: a D phase and a G phase per step, checkpoints, samples and logs.

What a run leaves on disk is described in t2igan.runs; what a model must provide, in
t2igan.models.base (networks) and t2igan.models.objective (losses).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from t2igan import __version__, files, losses, runs
from t2igan.augment import seen_through
from t2igan.config import TrainConfig
from t2igan.data.dataset import CaptionedTensors
from t2igan.data.memory import class_labels, load_into_memory, open_dataset
from t2igan.data.sources import count_reasons
from t2igan.errors import UserError
from t2igan.images import save_png
from t2igan.interrupts import Interrupted, stop_requests
from t2igan.models import build_networks, get_model, resolve
from t2igan.models.text_norm import fit_text_statistics
from t2igan.pretrained import packaged_file
from t2igan.prompts import few_captions
from t2igan.runtime import PRECISIONS, choose_precision, resolve_device, seed_process, why_precision
from t2igan.sampling import SAMPLE_PROMPTS, prompt_grid
from t2igan.text import embed_texts
from t2igan.training import distributed
from t2igan.training.batches import Batches, CaptionTable, SharedNoise
from t2igan.training.distributed import Group
from t2igan.training.ema import EMA, settle_batch_norms
from t2igan.training.evaluation import TrainingEvaluation
from t2igan.training.logbook import TENSORBOARD, Logbook
from t2igan.training.precision import InFloat32, MixedPrecision
from t2igan.training.warm_start import (
    backbone_record,
    check_backbone,
    init_source,
    start_from,
)


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


def caption_vectors(data: CaptionedTensors, encoder: str) -> torch.Tensor:
    """Every caption's sentence vector, image by image: a prepared cache's own where it was
    embedded with this encoder, else embedded now."""
    if data.vectors is not None and data.text_encoder == encoder:
        return data.vectors
    return embed_texts([c for caps in data.captions for c in caps], encoder)


def _trainable(network: nn.Module) -> list[nn.Parameter]:
    # frozen parts never reach an optimizer
    return [p for p in network.parameters() if p.requires_grad]


class Trainer:
    """One run's networks, optimisers and random generators, and the loop that trains them."""

    def __init__(self, cfg: TrainConfig, run: Path, progress: bool = True,
                 group: Group | None = None) -> None:
        cfg, group = resolve(cfg), group or Group()
        self.device = resolve_device(cfg.device)
        if cfg.batch_size % group.world:
            raise UserError(f"--batch-size {cfg.batch_size} does not split over {group.world} "
                            f"processes: make it a multiple of {group.world}")
        if cfg.mismatches >= cfg.batch_size:  # a batch of B has B - 1 other captions
            raise UserError(f"--mismatches {cfg.mismatches} needs more than {cfg.mismatches} "
                            f"images a step: --batch-size {cfg.batch_size}")
        # the precision chosen is what config.json records; auto's timing on a CPU may differ
        # between processes, so all take rank 0's choice
        chosen = PRECISIONS.index(choose_precision(cfg.precision, self.device))
        self.cfg = cfg = dataclasses.replace(
            cfg, precision=PRECISIONS[group.from_main(chosen, self.device)])
        spec = get_model(cfg.model)
        self.run, self.group, self.progress = Path(run), group, progress and group.main
        if cfg.d_backbone != "none":
            packaged_file(cfg.d_backbone)  # a missing or damaged package fails before the data
        self.evaluation = TrainingEvaluation(cfg) if cfg.eval_every and group.main else None
        seed_process(cfg.seed)
        self._load_data(with_labels=cfg.label is not None)
        G, D = build_networks(self.text_dim, cfg, len(self.classes))
        # the training captions' statistics (a resumed or --init-from run loads its own instead)
        fit_text_statistics([G, D], self.next_batch.table.vectors)
        if spec.warm_start:
            spec.warm_start(G, cfg)
        self.G = G.to(self.device, memory_format=torch.channels_last)
        self.D = D.to(self.device, memory_format=torch.channels_last)
        self.ema = EMA(self.G, cfg.ema_decay) if cfg.ema_decay > 0 else None
        self.objective = spec.objective(cfg)
        self._place_networks()
        betas, fused = (cfg.beta1, cfg.beta2), True  # one fused kernel per step, not one per tensor
        self.opt_g = torch.optim.Adam(_trainable(self.G), lr=cfg.lr, betas=betas, fused=fused)
        self.opt_d = torch.optim.Adam(_trainable(self.D), lr=cfg.lr_d, betas=betas, fused=fused)
        self.precision = MixedPrecision(cfg.precision, self.device)
        self.noise_rng = torch.Generator(self.device).manual_seed(cfg.seed + 1)
        self.noise = SharedNoise(self.G.noise_dim, self.noise_rng, group)
        self.step = 0
        self.saved_step: int | None = None  # the step of the newest checkpoint on disk
        self.settled_step: int | None = None  # the step the EMA's batch norms were measured at

    def _load_data(self, with_labels: bool) -> None:
        cfg = self.cfg
        dataset = open_dataset(cfg.data, cfg.size, "train", cfg.seed, cfg.source_options(), cfg.fit)
        data = load_into_memory(dataset, cfg.num_images, self.progress)
        # all reading happens here, before step 0: a bad file never stops a run mid-way
        if data.skipped and self.group.main:
            print(f"skipped {len(data.skipped)} unusable files ({count_reasons(data.skipped)}); "
                  f"`t2igan data check {cfg.data}` lists them", file=sys.stderr)
        self.prompts = (SAMPLE_PROMPTS if cfg.data == "synthetic"
                        else _distinct([c[0] for c in data.captions], 8))
        self.prompt_vectors = embed_texts(self.prompts, cfg.text_encoder)
        table = CaptionTable(data.captions, caption_vectors(data, cfg.text_encoder), self.device)
        # a labelled set's few captions, kept in each checkpoint: a prompt draws as the nearest
        self.few_captions = few_captions(c for caps in data.captions for c in caps)
        self.text_dim = table.vectors.shape[1]
        self.classes, labels = [], None
        if with_labels:
            self.classes, labels = class_labels(data.attributes, cfg.label)
            labels = labels.to(self.device)
        self.batch_rng = torch.Generator(self.device).manual_seed(cfg.seed)
        self.next_batch = Batches(data.images, table, labels, cfg.batch_size, self.batch_rng,
                                  self.group, cfg.mismatches)

    def _place_networks(self) -> None:
        """G and D as each phase calls them: compiled with --compile; D's phase through the
        gradient-averaging wrapper when there are several processes, G's phase through D itself
        (frozen there: nothing to average). Augmentation sits in front of both."""
        cfg, device = self.cfg, self.device
        G, D = self.G, self.D
        if cfg.compile:
            G = torch.compile(G, mode=cfg.compile_mode)
            # MA-GP differentiates D twice, which compiled graphs cannot
            if not getattr(self.objective, "gradient_penalty", False):
                D = torch.compile(D, mode=cfg.compile_mode)
        self.generator = self.group.wrap(G, device)
        # different per process (each augments its own images), rank 0's as one process's
        seed = cfg.seed + 2 + 7919 * self.group.rank
        self.augment_rng = torch.Generator(device).manual_seed(seed)
        self.critic = seen_through(self.group.wrap(D, device), cfg.augment, self.augment_rng)
        self.frozen_critic = seen_through(D, cfg.augment, self.augment_rng)
        if cfg.precision != "fp32":  # the losses see fp32 verdicts
            self.critic, self.frozen_critic = InFloat32(self.critic), InFloat32(self.frozen_critic)

    # -- one step ---------------------------------------------------------------------------
    def train_step(self) -> dict[str, torch.Tensor]:
        """One D update and one G update on one batch; the losses and stats, as tensors."""
        if self.cfg.compile:  # reduce-overhead's CUDA graphs may now replay into the memory
            # of the last step's outputs, which nothing reads any more
            torch.compiler.cudagraph_mark_step_begin()
        batch, precision = self.next_batch(self.step), self.precision
        with precision.autocast():
            generated = self.objective.generate(self.generator, batch, self.noise)
            loss_d, stats = self.objective.discriminator_loss(self.critic, batch, generated)
        precision.step("D", loss_d, self.opt_d)
        with frozen(self.D):
            with precision.autocast():
                loss_g, g_stats = self.objective.generator_loss(
                    self.generator, self.frozen_critic, batch, generated, self.noise)
                if self.cfg.mode_seeking > 0:
                    diverse = self.mode_seeking(batch.text)
                    loss_g = loss_g + self.cfg.mode_seeking * diverse
                    g_stats["g_mode_seeking"] = diverse.detach()
            precision.step("G", loss_g, self.opt_g)
        if self.ema:
            self.ema.update(self.G, self.step)
        self.step += 1
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), **stats, **g_stats}

    def mode_seeking(self, text: torch.Tensor) -> torch.Tensor:
        """MSGAN's term for half the batch's captions, each drawn with two noise vectors."""
        half = text[: len(text) // 2]
        z = self.noise(2 * len(half))
        fake = self.generator(z, torch.cat([half, half])).float()  # (2 * B/2, 3, H, W)
        return losses.mode_seeking_loss(*fake.chunk(2), *z.chunk(2))

    # -- state -----------------------------------------------------------------------------
    def meta(self) -> dict:
        return {"config": self.cfg.to_dict(), "model": self.cfg.model, "text_dim": self.text_dim,
                "image_size": list(self.cfg.size), "classes": self.classes,
                "captions": self.few_captions,
                "d_backbone": backbone_record(self.cfg), "t2igan_version": __version__}

    def networks(self) -> dict[str, nn.Module]:
        """What a checkpoint holds: G, D and, when on, the EMA generator that samples ("G_ema")."""
        return {"G": self.G, "D": self.D, **({"G_ema": self.ema.model} if self.ema else {})}

    def fit_unvaried_text_statistics(self) -> None:
        """After --init-from: a source run whose captions never varied learned nothing from text;
        its zero-scale statistics would silence this run's captions, so fit them to these."""
        vectors = self.next_batch.table.vectors
        if fit_text_statistics(list(self.networks().values()), vectors, unsteerable_only=True) \
                and self.group.main:
            print("--init-from: the source run's captions never varied; the text statistics are "
                  "fitted to this run's captions", file=sys.stderr)

    def save(self, settle: bool = True) -> Path | None:
        """A checkpoint of this step (written by rank 0 alone); settle=False keeps the EMA
        generator's copied batch-norm statistics, for a save that must be quick."""
        self.saved_step = self.step
        if not self.group.main:
            return None
        if settle:
            self.settle_ema()
        state = {"opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                 "batch_rng": self.batch_rng.get_state(), "noise_rng": self.noise_rng.get_state(),
                 "augment_rng": self.augment_rng.get_state(),
                 "scalers": self.precision.state_dict()}
        return runs.save_checkpoint(self.run, self.step, self.networks(), self.meta(), state,
                                    self.cfg.keep_checkpoints)

    def restore(self, checkpoint: runs.Checkpoint) -> None:
        runs.apply_weights(checkpoint, self.networks())
        state = checkpoint.state
        try:
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
            self.batch_rng.set_state(state["batch_rng"])
            self.noise_rng.set_state(state["noise_rng"])
            # checkpoints of t2igan before --augment have none; other processes keep their own
            if "augment_rng" in state and self.group.main:
                self.augment_rng.set_state(state["augment_rng"])
            self.precision.load_state_dict(state.get("scalers", {}))
        except (KeyError, ValueError, RuntimeError):
            raise UserError(f"checkpoint file {checkpoint.path / 'state.pt'} "
                            "does not fit this run") from None
        self.step = self.saved_step = checkpoint.meta["step"]

    def settle_ema(self) -> None:
        """The EMA generator's batch-norm statistics measured under its own weights, once a step
        (a sample grid and a checkpoint of one step share them)."""
        if self.ema and self.settled_step != self.step:
            settle_batch_norms(self.ema.model, self.next_batch.table.vectors, self.cfg.seed)
            self.settled_step = self.step

    @contextmanager
    def sampling_generator(self) -> Iterator[nn.Module]:
        """The generator that samples and is evaluated (the EMA one when kept), in eval mode."""
        self.settle_ema()
        G = self.ema.model if self.ema else self.G.eval()
        try:
            yield G
        finally:
            self.G.train()

    def sample(self, logbook: Logbook | None = None) -> Path:
        with self.sampling_generator() as G:
            grid = prompt_grid(G, self.prompts, self.prompt_vectors, 8, self.cfg.seed)
        if logbook:
            logbook.samples(self.step, grid)
        return save_png(grid, runs.sample_path(self.run, self.step))

    def evaluate(self) -> dict[str, float]:
        with self.sampling_generator() as G:
            return self.evaluation(G)

    # -- the loop --------------------------------------------------------------------------
    def fit(self) -> dict:
        """Train until cfg.steps or cfg.max_minutes; on SIGINT/SIGTERM save, then raise
        Interrupted. With several processes, rank 0 writes every file."""
        cfg, main = self.cfg, self.group.main
        start, seen, last, stats, first_step = time.monotonic(), 0, {}, {}, None
        deadline = start + cfg.max_minutes * 60 if cfg.max_minutes else float("inf")
        logbook = Logbook(self.run, cfg.tensorboard, start=self.step) if main else None
        # With a time budget the step limit is usually a far-off cap: count steps, show
        # minutes left.
        bar = tqdm(total=None if cfg.max_minutes else cfg.steps, initial=self.step, desc="training",
                   unit="step", disable=not self.progress)
        with stop_requests() as stop, logbook or nullcontext(), bar:
            while self.step < cfg.steps:
                stats = self.train_step()
                if first_step is None:  # compiling happens here: its cost is worth knowing
                    first_step = time.monotonic() - start
                seen += cfg.batch_size
                rate = seen / max(time.monotonic() - start, 1e-9)
                bar.update(1)
                if self.step % cfg.log_every == 0:
                    last = self.group.mean(stats)
                    self._log(logbook, bar, last, rate, deadline)
                if main and self.step % cfg.sample_every == 0:
                    self.sample(logbook)
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                if self.evaluation and self.step % cfg.eval_every == 0:
                    scores = self.evaluate()
                    logbook.evaluation(self.step, scores, cfg.eval_samples)
                    bar.write(f"step {self.step} ({cfg.eval_samples:,} samples): "
                              + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
                # every process stops at the same step, for a signal any of them received
                signal_number, past_deadline = self.group.maximum(
                    [stop[0] if stop else 0, time.monotonic() >= deadline], self.device)
                if signal_number:
                    if self.saved_step != self.step:  # quick: a supervisor may kill soon after
                        self.save(settle=False)  # (docker stop waits 10 s; settling can take 30)
                    raise Interrupted(int(signal_number), self.step,
                                      "checkpoint saved" if main else "rank 0 saved the checkpoint")
                if past_deadline:
                    break
        if stats and self.step % cfg.log_every:  # the summary gives the last step's losses
            last = self.group.mean(stats)
        if self.saved_step != self.step:
            self.save()
        samples = self.sample(logbook) if main else None
        minutes = (time.monotonic() - start) / 60
        return {"step": self.step, "minutes": round(minutes, 2),
                "images_per_s": round(seen / max(minutes * 60, 1e-9), 1),
                "first_step_s": round(first_step or 0.0, 2), "precision": cfg.precision,
                "processes": self.group.world, "rank": self.group.rank, "samples": str(samples),
                **last}

    def _log(self, logbook: Logbook | None, bar: tqdm, values: dict[str, float], rate: float,
             deadline: float) -> None:
        if logbook:
            logbook.step(self.step, {**values, "images_per_s": round(rate, 1)})
        left = ({"min_left": f"{(deadline - time.monotonic()) / 60:.1f}"}
                if deadline != float("inf") else {})
        bar.set_postfix(d=f"{values['loss_d']:.3f}", g=f"{values['loss_g']:.3f}",
                        img_s=f"{rate:.0f}", **left)


# what a run folder held before run folders were marked (an older version's run, killed early)
RUN_LAYOUT = frozenset({runs.CONFIG, runs.LOG, runs.SAMPLES, runs.CHECKPOINTS, TENSORBOARD,
                        "eval.json", "eval.md"})


def train(cfg: TrainConfig, run: str | Path, resume: bool = False, progress: bool = True) -> dict:
    """Train a model into a run folder (or continue it with resume=True); returns a summary.

    Started by torchrun, each process calls this; they train together (t2igan.training.
    distributed) and rank 0 writes the run folder."""
    group, device = distributed.join(cfg.device)
    try:
        # one writer per run folder: a second training into it stops here, naming the first
        with files.claimed(run, "folder") if group.main else nullcontext():
            return _train(dataclasses.replace(cfg, device=device), Path(run), resume, progress,
                          group)
    finally:
        distributed.leave(group)


def _train(cfg: TrainConfig, run: Path, resume: bool, progress: bool, group: Group) -> dict:
    # fail before loading data
    checkpoint = runs.load_latest(run) if resume else None
    if checkpoint:
        check_backbone(checkpoint)
    source = init_source(Path(cfg.init_from), resolve(cfg)) \
        if cfg.init_from and not resume else None
    if not resume and runs.list_checkpoints(run):
        raise UserError(f"{run} already holds a run; pass --resume to continue it "
                        "or choose another --out")
    if not resume:  # a folder of other files (a config.json of the user's) is not overwritten
        files.check_replaceable(run, "train", RUN_LAYOUT)
    if group.main:
        run.mkdir(parents=True, exist_ok=True)
        files.mark_made_by(run, "train")
    trainer = Trainer(cfg, run, progress, group)
    if checkpoint:
        trainer.restore(checkpoint)
    elif source:
        start_from(source, trainer.networks())
        trainer.fit_unvaried_text_statistics()
    if group.main:
        runs.write_config(run, trainer.cfg)  # resolved: every value used
        print(f"training {trainer.cfg.model} in {trainer.cfg.precision} on {trainer.device}"
              + (f", {group.world} processes" if group.active else "")
              + f" ({why_precision(cfg.precision, trainer.device)})", file=sys.stderr)
    return trainer.fit()
