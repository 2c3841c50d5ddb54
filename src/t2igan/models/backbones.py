"""Frozen ImageNet networks as feature extractors for discriminators: four scales of features.

A backbone takes images in [-1, 1] and returns the feature maps after the stages that end at 1/4,
1/8, 1/16 and 1/32 of the input's side, the four scales Projected GAN (Sauer et al. 2021) reads.
Its weights come from a packaged file (t2igan.pretrained) and never train: its parameters do not
require gradients, it stays in eval mode when the discriminator around it trains (its batch-norm
statistics never move), and a checkpoint holds none of its tensors, only its name and its file's
SHA-256 (t2igan.training.warm_start writes them into meta.json and checks them on resume).
"""

from __future__ import annotations

import torch
from torch import nn

from t2igan.pretrained import IMAGENET_MEAN, IMAGENET_STD, imagenet_network


def _efficientnet_stages(net: nn.Module) -> list[nn.Module]:
    # timm's EfficientNet-Lite: stem (/2), blocks 0-1 (/4, 24 ch for lite0), 2 (/8), 3-4 (/16),
    # 5-6 (/32): Projected GAN's split of the same network
    stem = nn.Sequential(net.conv_stem, net.bn1, *net.blocks[:2])
    return [stem, net.blocks[2], nn.Sequential(*net.blocks[3:5]), nn.Sequential(*net.blocks[5:])]


def _mobilenet_stages(net: nn.Module) -> list[nn.Module]:
    # torchvision's MobileNetV2 features: /4 after 3, /8 after 6, /16 after 13 (96 ch), /32 after
    # 17 (320 ch); the last 1x1 conv to 1280 channels serves only the classifier
    f = net.features
    return [f[:4], f[4:7], f[7:14], f[14:18]]


STAGES = {"mobilenet-v2": _mobilenet_stages,
          **{f"efficientnet-lite{n}": _efficientnet_stages for n in range(3)}}
NAMES = ("none", *STAGES)  # what --d-backbone accepts


class FrozenBackbone(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> four (B, C_i, H / 2^(i+2), W / 2^(i+2)) feature maps."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.stages = nn.ModuleList(STAGES[name](imagenet_network(name)))
        # [-1, 1] -> ImageNet's normalisation in one multiply-add: (x + 1) / 2 - mean) / std
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.register_buffer("scale", 0.5 / std, persistent=False)
        self.register_buffer("shift", (0.5 - mean) / std, persistent=False)
        with torch.no_grad():
            probe = self(torch.zeros(1, 3, 64, 64))
        self.channels = [f.shape[1] for f in probe]
        self.requires_grad_(False).eval()
        self.own_keys = list(self.state_dict())
        # checkpoints leave the pretrained tensors out (they name the file instead); loading one
        # keeps the tensors this backbone has
        self.register_state_dict_post_hook(_drop_own_tensors)
        self.register_load_state_dict_pre_hook(_keep_own_tensors)

    def train(self, mode: bool = True) -> FrozenBackbone:
        return super().train(False)  # batch norm on running statistics, always

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = images * self.scale + self.shift
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


def _drop_own_tensors(module: nn.Module, state: dict, prefix: str, metadata: dict) -> None:
    for key in [k for k in state if k.startswith(prefix)]:
        del state[key]


def _keep_own_tensors(module: nn.Module, state: dict, prefix: str, *args: object) -> None:
    own = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    for key in module.own_keys:
        state.setdefault(prefix + key, own[key])
