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
import torch.nn.functional as F
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


class _DepthwiseStrideOneBackward(torch.autograd.Function):
    """A strided depthwise conv of frozen weights whose input gradient is computed at stride 1."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, conv: nn.Conv2d, padding: tuple[int, int]) -> torch.Tensor:
        ctx.conv, ctx.padding, ctx.input_shape = conv, padding, x.shape
        weight = conv.weight.to(x.dtype)
        bias = None if conv.bias is None else conv.bias.to(x.dtype)
        ctx.save_for_backward(weight)
        return F.conv2d(x, weight, bias, conv.stride, padding, conv.dilation, conv.groups)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (weight,), conv = ctx.saved_tensors, ctx.conv
        # the stride-1 output's gradient: the strided one's at every stride-th position, else 0
        (sh, sw), (ph, pw), (dh, dw) = conv.stride, ctx.padding, conv.dilation
        (kh, kw), (h, w) = conv.kernel_size, ctx.input_shape[2:]
        layout = (torch.channels_last if grad.is_contiguous(memory_format=torch.channels_last)
                  else torch.contiguous_format)
        side = (h + 2 * ph - dh * (kh - 1), w + 2 * pw - dw * (kw - 1))  # the stride-1 output's
        full = torch.empty((*grad.shape[:2], *side), dtype=grad.dtype, device=grad.device,
                           memory_format=layout).zero_()
        full[:, :, ::sh, ::sw] = grad
        # the input lends only its shape and layout; conv2d_input's stand-in has no layout, and
        # oneDNN may then take its slow channels-first path
        like_input = torch.empty(ctx.input_shape, dtype=grad.dtype, device=grad.device,
                                 memory_format=layout)
        grad_input = torch.ops.aten.convolution_backward(
            full, like_input, weight, None, [1, 1], list(ctx.padding), list(conv.dilation),
            False, [0, 0], conv.groups, [True, False, False])[0]
        return grad_input, None, None


class StrideOneDepthwise(nn.Module):
    """A strided depthwise conv of frozen weights that, where gradients flow back to its input in
    bf16 on a CPU, computes that gradient as a stride-1 conv's: with oneDNN's own bf16 backward,
    such a conv's forward and input gradient take 3-20x as long (docs/results.md), and G's phase
    goes back through the backbone. Elsewhere (no gradient, fp32, GPUs) the conv runs as it is."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        # timm's TF-ported convs ("same" padding) pad in forward, by a size that depends on stride
        self.pads_itself = type(conv).forward is not nn.Conv2d.forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        if not (x.requires_grad and x.dtype == torch.bfloat16 and x.device.type == "cpu"
                and not conv.weight.requires_grad):
            return conv(x)
        padding = conv.padding
        if self.pads_itself:
            from timm.layers import pad_same
            x, padding = pad_same(x, conv.kernel_size, conv.stride, conv.dilation), (0, 0)
        return _DepthwiseStrideOneBackward.apply(x, conv, padding)


def _stride_one_depthwise(net: nn.Module) -> nn.Module:
    """`net` with each strided depthwise conv wrapped in StrideOneDepthwise."""
    for parent in list(net.modules()):
        for name, child in parent.named_children():
            if (isinstance(child, nn.Conv2d) and child.groups == child.in_channels > 1
                    and child.stride != (1, 1)):
                setattr(parent, name, StrideOneDepthwise(child))
    return net


STAGES = {"mobilenet-v2": _mobilenet_stages,
          **{f"efficientnet-lite{n}": _efficientnet_stages for n in range(3)}}
NAMES = ("none", *STAGES)  # what --d-backbone accepts


class FrozenBackbone(nn.Module):
    """(B, 3, H, W) in [-1, 1] -> four (B, C_i, H / 2^(i+2), W / 2^(i+2)) feature maps."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        network = _stride_one_depthwise(imagenet_network(name))
        self.stages = nn.ModuleList(STAGES[name](network))
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
