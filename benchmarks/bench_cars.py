"""Stanford Cars at 64x64: which settings make recognisable cars of the body type the caption names?

Trains each chosen configuration on a prepared cars cache for the same budget (minutes of wall
clock, or a number of images seen, for comparing settings on a faster machine), then asks a
body-type judge about its images. The judge is a linear probe on frozen ImageNet MobileNetV2
features (not the default D's EfficientNet-Lite0), trained here on the real training images to
tell sedan, SUV, coupe, convertible, pickup, hatchback, van and wagon apart (from the class
names); its balanced accuracy on real held-out images is the ceiling, chance (1/8) the floor.
(Until issue 13's last stop the judge was a small CNN trained from scratch: 21-28% on real
cars, too weak to rank generators.)
For each body type the generator gets the held-out captions of that type ("a photo of a 2012
Ford F-150 Regular Cab") and the judge scores what comes out. FID, KID, precision and recall in
Inception features compare --fid-samples generated images with the held-out photos. Grids, one
row per body type, are written beside the runs. Usage:

    t2igan data prepare ../shared/data/stanford-cars-128x96 --size 64x64 --fit pad \\
        --out bench-runs/cars64
    python benchmarks/bench_cars.py --cache bench-runs/cars64 --minutes 30 --only gan-int-cls+aug
    python benchmarks/bench_cars.py --cache ... --images 200000 --device cuda  (compare fast)
    python benchmarks/bench_cars.py --tiny [--out DIR]  (seconds: stand-in cache, tiny settings)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from math import nan
from pathlib import Path

import torch
from torch import nn

from benchmark_tools import parse_args

BODY_TYPES = {"Sedan": "sedan", "SUV": "suv", "Coupe": "coupe", "Convertible": "convertible",
              "Cab": "pickup", "SuperCab": "pickup", "Hatchback": "hatchback", "Van": "van",
              "Minivan": "van", "Wagon": "wagon"}
TYPES = sorted(set(BODY_TYPES.values()))
COMMON = dict(image_size="64", batch_size=32, steps=10_000_000, sample_every=1000,
              checkpoint_every=1000)
AUG = "color,translation,cutout"  # DiffAugment's full policy
AUG_CT = "color,translation"
# Explored on a GPU at each one's 30-CPU-minute image count first (README, "Real photos").
CONFIGS = {
    "gan-int-cls": dict(model="gan-int-cls", ngf=16, ndf=16, lr=4e-4),  # the demo's, at the time
    "gan-int-cls+aug": dict(model="gan-int-cls", ngf=16, ndf=16, lr=4e-4, augment=AUG),
    "gan-int-cls-32+aug": dict(model="gan-int-cls", ngf=32, ndf=32, lr=2e-4, augment=AUG),
    "gan-int-cls-2e-4+ct": dict(model="gan-int-cls", ngf=16, ndf=16, lr=2e-4, augment=AUG_CT),
    "tac-gan+aug": dict(model="tac-gan", ngf=16, ndf=16, lr=4e-4, augment=AUG, label="label"),
    "tac-gan+aug+ms": dict(model="tac-gan", ngf=16, ndf=16, lr=4e-4, augment=AUG, label="label",
                           mode_seeking=1.0),
    "tac-gan+aug+ms0.1": dict(model="tac-gan", ngf=16, ndf=16, lr=4e-4, augment=AUG, label="label",
                              mode_seeking=0.1),
    "tac-gan-2e-4": dict(model="tac-gan", ngf=16, ndf=16, lr=2e-4, label="label"),
    "tac-gan-2e-4+ct": dict(model="tac-gan", ngf=16, ndf=16, lr=2e-4, augment=AUG_CT,
                            label="label"),
    "tac-gan-2e-4+aug-b64": dict(model="tac-gan", ngf=16, ndf=16, lr=2e-4, augment=AUG,
                                 label="label", batch_size=64),
    "df-gan-16+aug": dict(model="df-gan", ngf=16, ndf=16, augment=AUG),
    "df-gan-8+ct": dict(model="df-gan", ngf=8, ndf=8, augment=AUG_CT),
    # D on frozen ImageNet features (Projected GAN), DiffAugment's full policy by default
    "fastgan-16+lite0": dict(model="fastgan", ngf=16),  # backbone reads at 128 px, lr 4e-4
    "fastgan-16+lite0-2e-4": dict(model="fastgan", ngf=16, lr=2e-4),  # Projected GAN's lr
    # ... with TAC-GAN's auxiliary classifier of the car's class on the projected D's heads
    "fastgan-16+lite0+ac": dict(model="fastgan", ngf=16, label="label"),
    "fastgan-16+lite0@64": dict(model="fastgan", ngf=16, d_input_size=0),  # as issue 13 first
    "fastgan-16+mobilenet": dict(model="fastgan", ngf=16, d_backbone="mobilenet-v2"),
    "df-gan-16+lite0": dict(model="df-gan", ngf=16, d_backbone="efficientnet-lite0", lr=2e-4,
                            lr_d=2e-4, beta2=0.99),
    "tac-gan-16+lite0": dict(model="tac-gan", ngf=16, lr=2e-4, d_backbone="efficientnet-lite0",
                             label="label"),
}
# --tiny: these defaults instead (flags given still win); "overrides" go into every TrainConfig.
# Without --cache, a stand-in cache of procedural images in the cars' layout (benchmark_tools.py).
TINY = dict(out=None, images=8, judge_epochs=1, per_type=2, fid_samples=10,
            # labels, augment, mode seeking; a 64-px model; a frozen-feature D
            only="tac-gan+aug+ms,df-gan-8+ct,fastgan-16+lite0",
            overrides=dict(batch_size=4, ngf=4, ndf=4, nz=8, text_code=8))


def body_type(class_name: str) -> str | None:
    """'Ford F-150 Regular Cab 2012' -> 'pickup'; None where the name states no body type."""
    return BODY_TYPES.get(class_name.split()[-2]) if len(class_name.split()) > 1 else None


def typed(split) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images, body-type indices and first captions of the items whose body type is known."""
    keep = [(i, TYPES.index(t), item["captions"][0]) for i, item in enumerate(split.items)
            if (t := body_type(str(item["extras"].get("class_name", ""))))]
    index = torch.tensor([k[0] for k in keep])
    labels = torch.tensor([k[1] for k in keep])
    return split.images[index].contiguous(), labels, [k[2] for k in keep]


JUDGE_BACKBONE = "mobilenet-v2"
JUDGE_SIDE = 128  # the probe reads the 64-px cars at 128 px, as the D's backbone does


class BodyTypeJudge(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> (B, 8) body-type logits: a linear probe on the pooled 1/16 and
    1/32 feature maps of a frozen ImageNet network."""

    def __init__(self) -> None:
        from t2igan.models.backbones import FrozenBackbone

        super().__init__()
        self.backbone = FrozenBackbone(JUDGE_BACKBONE)
        width = sum(self.backbone.channels[2:])
        self.probe = nn.Sequential(nn.BatchNorm1d(width), nn.Dropout(0.2),
                                   nn.Linear(width, len(TYPES)))

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(images, size=(JUDGE_SIDE, JUDGE_SIDE), mode="bilinear",
                                      align_corners=False)
        return torch.cat([f.mean((2, 3)) for f in self.backbone(x)[2:]], 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.probe(self.features(images))


def train_judge(cache: Path, epochs: int, device: torch.device) -> tuple[nn.Module, float]:
    """The probe, trained on the features of the real training cars and their mirror images
    (cars face both ways), each body type weighted by its rarity; and its balanced accuracy on
    the held-out cars."""
    from t2igan.data.cache import CachedImages
    from t2igan.images import to_model

    torch.manual_seed(0)
    images, labels, _ = typed(CachedImages(cache, "train"))
    val_images, val_labels, _ = typed(CachedImages(cache, "val"))
    judge = BodyTypeJudge().to(device)
    x = torch.cat([judge.features(to_model(b).to(device)) for part in (images, images.flip(3))
                   for b in part.split(256)])
    y = labels.repeat(2).to(device)
    weight = 1 / torch.bincount(y, minlength=len(TYPES)).clamp(min=1).float()
    opt = torch.optim.AdamW(judge.probe.parameters(), 1e-3, weight_decay=1e-2)
    judge.probe.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(x), device=device).split(256):
            if len(batch) < 2:  # batch norm needs two samples (the stand-in's tiny sets)
                continue
            loss = nn.functional.cross_entropy(judge.probe(x[batch]), y[batch], weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    judge.eval()
    return judge, accuracy(judge, val_images, val_labels, device)


def load_judge(file: Path, device: torch.device) -> tuple[nn.Module, float]:
    saved = torch.load(file, weights_only=True)
    judge = BodyTypeJudge()
    judge.probe.load_state_dict(saved["probe"])
    return judge.to(device).eval(), saved["ceiling"]


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             device: torch.device) -> float:
    """Balanced accuracy: the mean over body types of the share judged right (chance: 1/8)."""
    from t2igan.images import to_model

    predicted = torch.cat([net(to_model(b).to(device)).argmax(1).cpu() for b in images.split(256)])
    shares = [(predicted[labels == k] == k).float().mean() for k in labels.unique()]
    return torch.stack(shares).mean().item()


def score(run: Path, cache: Path, judge: nn.Module, device: torch.device,
          per_type: int = 32) -> dict:
    """Generate from held-out captions of each body type: the judge's accuracy overall and per type,
    and how much 8 noise vectors vary one caption's images (the grid shows those 8 per type)."""
    from t2igan.data.cache import CachedImages
    from t2igan.images import grid_image, save_png, to_model, to_uint8
    from t2igan.metrics.pixel_diversity import diversity
    from t2igan.sampling import load_generator
    from t2igan.text import embed_texts

    G, cfg, _ = load_generator(run, device)
    _, labels, captions = typed(CachedImages(cache, "val"))
    generator = torch.Generator().manual_seed(0)

    def draw(texts: list[str]) -> torch.Tensor:
        z = torch.randn(len(texts), G.noise_dim, generator=generator).to(device)
        with torch.no_grad():
            return to_uint8(G(z, embed_texts(texts, cfg.text_encoder).to(device))).cpu()

    judged, truth, same_caption, grid_captions = [], [], [], []
    for k, name in enumerate(TYPES):
        mine = [c for c, label in zip(captions, labels.tolist()) if label == k]
        picks = torch.randint(len(mine), (per_type,), generator=generator).tolist()
        judged.append(draw([mine[i] for i in picks]))
        truth += [k] * per_type
        same_caption.append(draw([mine[0]] * 8))
        grid_captions.append(f"{name}: {mine[0]}")
    grid = grid_image(torch.cat(same_caption), grid_captions, columns=8)
    save_png(grid, run / "body-types.png")
    with torch.no_grad():
        predicted = torch.cat([judge(to_model(r).to(device)).argmax(1).cpu() for r in judged])
    truth_t = torch.tensor(truth)
    per = {name: round((predicted[truth_t == k] == k).float().mean().item(), 3)
           for k, name in enumerate(TYPES)}
    return {"body_type_accuracy": round((predicted == truth_t).float().mean().item(), 3),
            "per_type": per, "diversity": diversity(torch.cat(same_caption), 8)}


def inception_metrics(run: Path, samples: int, device: str) -> dict:
    """FID, KID, precision and recall of `samples` generated images against the held-out photos."""
    from t2igan.evaluate import evaluate_run
    from t2igan.metrics.context import EvalSettings

    report = evaluate_run(run, ["fid", "kid", "precision", "recall"], samples,
                          EvalSettings(progress=False), device=device)
    return {**{name: r["value"] for name, r in report["metrics"].items()},
            "fid_protocol": report["metrics"]["fid"]["protocol"]}


def stand_in_cache(out: Path) -> Path:
    """--tiny without --cache: procedural images in the cars' layout, prepared as in Usage."""
    from benchmark_tools import cars_like
    from t2igan.data.cache import is_cache
    from t2igan.data.prepare import prepare_cache
    from t2igan.data.sources import open_source

    cache = out / "stand-in-cache"
    if not is_cache(cache):  # every class in both splits: cars_like(val_fraction=0.5)
        prepare_cache(open_source(cars_like(out / "stand-in")), cache, (64, 64), "pad",
                      val_fraction=0.5, progress=False)
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", help="cars cache at 64x64 from `t2igan data prepare` (required, "
                        "but with --tiny: default a stand-in in --out)")
    parser.add_argument("--out", default="bench-runs/cars",
                        help="folder for runs, grids and results.json (--tiny: a temporary one)")
    parser.add_argument("--only", help="comma-separated names from: " + ", ".join(CONFIGS))
    parser.add_argument("--minutes", type=float,
                        help="training budget per configuration, wall clock")
    parser.add_argument("--images", type=int,
                        help="... or as images seen (same for every configuration)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--judge-epochs", type=int, default=30,
                        help="epochs of the body-type probe over the training cars' features")
    parser.add_argument("--fid-samples", type=int, default=1000,
                        help="generated images for FID/KID/precision/recall (default: 1000; "
                        "0: skip them, e.g. to rescore the body type with --score-only)")
    parser.add_argument("--score-only", action="store_true",
                        help="score the runs already in --out again")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test in seconds: every step at the smallest settings")
    parser.set_defaults(per_type=32, overrides={})
    args = parse_args(parser, TINY)
    if not (args.cache or args.tiny):
        parser.error("the following arguments are required: --cache")
    if not (args.minutes or args.images or args.score_only):
        parser.error("give a budget: --minutes M or --images N")
    from t2igan.config import TrainConfig
    from t2igan.training.loop import train

    device = torch.device(args.device)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-cars-"))
    cache = Path(args.cache) if args.cache else stand_in_cache(out)
    names = args.only.split(",") if args.only else list(CONFIGS)
    started = time.monotonic()
    # trained once, shared by runs in parallel (--only one each)
    judge_file = out / "body-type-judge.pt"
    if judge_file.is_file():
        judge, ceiling = load_judge(judge_file, device)
    else:
        judge, ceiling = train_judge(cache, args.judge_epochs, device)
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"probe": judge.probe.state_dict(), "ceiling": ceiling}, judge_file)
    floor = 1 / len(TYPES)
    print(f"body-type judge: {ceiling:.1%} on real held-out cars (chance {floor:.1%}), "
          f"{time.monotonic() - started:.0f} s", flush=True)
    rows = []
    for name in names:
        settings = {**COMMON, **CONFIGS[name], **args.overrides}
        budget = dict(max_minutes=args.minutes) if args.minutes else \
            dict(steps=args.images // settings["batch_size"]) if args.images else {}
        cfg = TrainConfig(**{**settings, **budget}, data=str(cache), device=args.device,
                          precision=args.precision)
        if args.score_only:  # a finished run: its own log says how it trained
            summary = json.loads((out / name / "log.jsonl").read_text().splitlines()[-1])
            summary["minutes"] = None
        else:
            summary = train(cfg, out / name, progress=False)
        row = {"name": name, "steps": summary["step"], "minutes": summary["minutes"],
               "images_per_s": summary["images_per_s"],
               "images_seen": summary["step"] * cfg.batch_size,
               **score(out / name, cache, judge, device, args.per_type),
               **(inception_metrics(out / name, args.fid_samples, args.device)
                  if args.fid_samples else {}),
               "grid": str(out / name / "body-types.png")}
        rows.append(row)
        print(json.dumps(row), flush=True)
    results = {"judge_real_accuracy": ceiling, "chance": floor, "rows": rows}
    (out / f"results-{'+'.join(names)}.json").write_text(json.dumps(results, indent=2))
    print("\n| config | steps | img/s | images seen | body type (judge) "
          "| diversity within / between captions | FID | KID | precision | recall |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['name']} | {r['steps']} | {r['images_per_s']:.0f} | {r['images_seen']} | "
              f"{r['body_type_accuracy']:.1%} | {r['diversity']['within_caption']:.3f} / "
              f"{r['diversity']['between_captions']:.3f} | {r.get('fid', nan):.1f} | "
              f"{r.get('kid', nan):.3f} | {r.get('precision', nan):.3f} | "
              f"{r.get('recall', nan):.3f} |")
    if rows and "fid_protocol" in rows[0]:
        print(f"FID etc.: {rows[0]['fid_protocol']}")
    print(f"body type judged right (balanced over the 8 types): real held-out cars {ceiling:.1%}, "
          f"chance {floor:.1%}")


if __name__ == "__main__":
    main()
