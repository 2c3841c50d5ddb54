"""Attribute accuracy: does a generated image show what its caption says?

A small CNN, trained on held-out procedural renders (the synthetic "test" split, never seen by a
GAN), predicts every categorical attribute of an image. A run is scored by generating one image per
test caption and checking each attribute the caption states. The same classifier's accuracy on
real renders it was not trained on is reported beside it: below 98% the evaluator is not trusted.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from t2igan.data import synthetic
from t2igan.data.captions import parse_caption
from t2igan.data.memory import load_into_memory
from t2igan.files import cache_dir, cache_entry
from t2igan.images import to_model
from t2igan.runtime import seed_process

SIZE = (64, 64)  # the classifier's input; generated images of other sizes are resized to it
TRUST = 0.98
RECIPE = {"train_images": 16_000, "val_images": 2_000, "epochs": 5, "batch": 128, "lr": 2e-3,
          "seed": 0, "version": 1}
HEADS = synthetic.ATTRIBUTES


class AttributeNet(nn.Module):
    """uint8-derived (B, 3, 64, 64) in [-1, 1] -> {attribute: (B, n_values) logits}."""

    def __init__(self) -> None:
        super().__init__()
        layers, c_in = [], 3
        for c_out in (24, 48, 96, 128):  # 64 -> 32 -> 16 -> 8 -> 4; about 6 MMAC per image
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(True)]
            c_in = c_out
        # Flatten, not average-pool: where things are (facing left or right) is an attribute.
        self.trunk = nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 16, 128), nn.ReLU(True))
        self.heads = nn.ModuleDict({name: nn.Linear(128, len(values))
                                    for name, values in HEADS.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(x)
        return {name: head(h) for name, head in self.heads.items()}


def _labels(attributes: list[dict]) -> dict[str, torch.Tensor]:
    """Class indices per attribute; -100 (ignored by cross-entropy) where it does not apply."""
    return {name: torch.tensor([values.index(a[name]) if name in a else -100 for a in attributes])
            for name, values in HEADS.items()}


def _prepare(images: torch.Tensor) -> torch.Tensor:
    if tuple(images.shape[-2:]) != (SIZE[1], SIZE[0]):
        images = F.interpolate(images.float(), size=(SIZE[1], SIZE[0]), mode="area")
    return to_model(images)


@torch.no_grad()
def predict(net: AttributeNet, images: torch.Tensor, batch: int = 500) -> dict[str, torch.Tensor]:
    """uint8 (N, 3, H, W) -> {attribute: (N,) predicted value index}."""
    net.eval()
    parts = [{k: v.argmax(1) for k, v in net(_prepare(images[i:i + batch])).items()}
             for i in range(0, len(images), batch)]
    return {name: torch.cat([p[name] for p in parts]) for name in HEADS}


def _accuracy(predicted: dict[str, torch.Tensor],
              labels: dict[str, torch.Tensor]) -> dict[str, float]:
    out = {}
    for name in HEADS:
        mask = labels[name] >= 0
        out[name] = (round((predicted[name][mask] == labels[name][mask]).float().mean().item(), 4)
                     if mask.any() else None)
    return out


def _recipe_key() -> str:
    """Hash of the renderer's source and the training recipe: a changed renderer retrains."""
    source = synthetic.renderer_fingerprint().encode() + Path(__file__).read_bytes()
    return hashlib.sha256(source + json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]


def _train(progress: bool) -> tuple[AttributeNet, dict[str, float]]:
    seed_process(RECIPE["seed"])
    n_train, n_val = RECIPE["train_images"], RECIPE["val_images"]
    renders = synthetic.SyntheticCaptions("test", SIZE, seed=RECIPE["seed"], length=n_train + n_val)
    data = load_into_memory(renders, progress=progress)
    labels = _labels(data.attributes)
    net = AttributeNet()
    opt = torch.optim.Adam(net.parameters(), lr=RECIPE["lr"])
    steps = RECIPE["epochs"] * n_train // RECIPE["batch"]
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, RECIPE["lr"], total_steps=steps)
    for _ in tqdm(range(steps), desc="training the attribute classifier", disable=not progress):
        index = torch.randint(n_train, (RECIPE["batch"],))
        logits = net.train()(_prepare(data.images[index]))
        loss = sum(F.cross_entropy(logits[k], labels[k][index], ignore_index=-100) for k in HEADS)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
    val = slice(n_train, n_train + n_val)
    accuracy = _accuracy(predict(net, data.images[val]), {k: v[val] for k, v in labels.items()})
    return net, accuracy


def attribute_classifier(progress: bool = True) -> tuple[AttributeNet, dict[str, float]]:
    """The classifier and its accuracy on held-out real renders; trained once, then cached."""
    path = cache_dir() / "evaluator" / f"attributes-{_recipe_key()}.safetensors"
    net = AttributeNet()
    if path.exists():
        try:
            net.load_state_dict(load_file(path))
            return net, json.loads(path.with_suffix(".json").read_text())
        except Exception:  # a damaged cache is only a cache: retrain
            pass
    net, accuracy = _train(progress)
    with cache_entry(path.with_suffix(".json")) as temporary:
        temporary.write_text(json.dumps(accuracy))
    with cache_entry(path) as temporary:  # last: the weights mark a complete cache entry
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, temporary)
    return net, accuracy


def score(images: torch.Tensor, captions: list[str], net: AttributeNet) -> dict:
    """Accuracy per attribute stated in the captions, and the share of images right on all of
    them."""
    stated = [parse_caption(c) for c in captions]
    predicted = predict(net, images)
    per_attribute, all_right = {}, torch.ones(len(captions), dtype=torch.bool)
    for name, values in HEADS.items():
        rows = [i for i, s in enumerate(stated) if name in s]
        if not rows:
            continue
        truth = torch.tensor([values.index(stated[i][name]) for i in rows])
        right = predicted[name][rows] == truth
        all_right[rows] &= right
        per_attribute[name] = {"accuracy": round(right.float().mean().item(), 4),
                               "count": len(rows)}
    return {"attributes": per_attribute, "all_stated": round(all_right.float().mean().item(), 4)}
