"""Started by tests/test_distributed.py under torchrun: train tiny runs with the library, then
write each process's final parameters (rank 1 writes no checkpoint, so the test could not see them).

    python -m torch.distributed.run --standalone --nproc_per_node N tests/distributed_worker.py \
        OUT STEPS MODEL[,MODEL...]
"""

import sys
from pathlib import Path

import torch

from t2igan.config import TrainConfig
from t2igan.training import distributed
from t2igan.training.loop import Trainer

# fp32 on every CPU: in bf16 (auto's choice where the CPU has it) two processes' rounding differs
# from one's by more than the equal-losses test allows
TINY = dict(ngf=4, ndf=4, nz=8, text_code=8, batch_size=8, num_images=16, log_every=1,
            sample_every=1000, checkpoint_every=1000, ema_decay=0.9, precision="fp32")
MODELS = {
    # MA-GP every step (not DF-GAN's default every 4th), so every logged step compares it
    "df-gan": dict(model="df-gan", image_size="64", gp_every=1),
    "gan-int-cls": dict(model="gan-int-cls", image_size="32", mode_seeking=1.0),
    "tac-gan": dict(model="tac-gan", image_size="32", aux_loss="d2d-ce"),
    "stackgan": dict(model="stackgan", image_size="64"),
    "fastgan": dict(model="fastgan", image_size="64", d_backbone="mobilenet-v2"),
}


def main(out: Path, steps: int, models: list[str]) -> None:
    group, device = distributed.join("cpu")
    for model in models:
        run = out / model
        run.mkdir(parents=True, exist_ok=True)
        cfg = TrainConfig(**TINY, **MODELS[model], steps=steps, device=device)
        trainer = Trainer(cfg, run, progress=False, group=group)
        trainer.fit()
        # parameters: batch-norm statistics are each process's own (rank 0's are saved)
        weights = {f"{name}.{key}": value.detach() for name, network in trainer.networks().items()
                   for key, value in network.named_parameters()}
        torch.save(weights, run / f"rank{group.rank}.pt")
        # what every process takes from rank 0 (e.g. auto's timed precision): rank + 1 there
        told = group.from_main(group.rank + 1, torch.device(device))
        (run / f"rank{group.rank}.told").write_text(str(told))
    distributed.leave(group)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(","))
