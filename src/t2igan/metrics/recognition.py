"""Recognised: does a classifier that never took part in training name the subject the caption
asks for? The question a person asks of a sample grid ("is that a cat?"), put to a network.

An ImageNet MobileNetV2 (the packaged file; not the default frozen-feature D's EfficientNet-Lite)
looks at each image whose caption names a cat or a car, read by the procedural captions' parser.
The image counts as recognised when one of its subject's ImageNet classes is among the
classifier's five most likely. The same rule on the real split gives the figure beside it: real
64-px photos upscaled to 224 are not always named either.
"""

from __future__ import annotations

import torch

from t2igan.data.captions import parse_caption

# ImageNet-1k class indices of each subject the parser knows
IMAGENET_CLASSES: dict[str, tuple[int, ...]] = {
    "cat": (281, 282, 283, 284, 285),  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    # ambulance, beach wagon, cab, convertible, jeep, limousine, minivan, Model T, pickup, racer,
    # sports car: vehicles a car photo is named as, not parts (grille, car wheel)
    "car": (407, 436, 468, 511, 609, 627, 656, 661, 717, 751, 817),
}
TOP = 5


def subjects(captions: list[str]) -> list[str | None]:
    """Each caption's subject ("cat", "car"), or None where it names neither."""
    return [parse_caption(caption).get("subject") for caption in captions]


def recognised(logits: torch.Tensor, subject_of: list[str | None]) -> dict:
    """Share of the images with a subject whose top-5 ImageNet classes include one of its
    subject's; overall and per subject, with the counts behind them."""
    top = logits.topk(TOP, dim=1).indices
    hits: dict[str, list[bool]] = {}
    for classes, subject in zip(top.tolist(), subject_of, strict=True):
        if subject is not None:
            hits.setdefault(subject, []).append(bool(set(classes) & set(IMAGENET_CLASSES[subject])))
    every = [hit for subject_hits in hits.values() for hit in subject_hits]
    return {"share": sum(every) / len(every) if every else None, "counted": len(every),
            "by_subject": {s: sum(h) / len(h) for s, h in sorted(hits.items())}}
