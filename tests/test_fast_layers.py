"""Layers computed in a cheaper form than the papers write them compute the same function, with
the same parameters: the up-sampling convolution folded into 2x2 kernels, DF-GAN's blocks with
their per-pixel parts moved to the smaller grid, a transposed conv of a vector as a product,
GAN-INT-CLS's head as products with the text's part computed once per text."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from t2igan.models import df_gan, gan_int_cls
from t2igan.models.layers import GridProjection, UpsampledConv

DOUBLE = torch.float64


def upsampled_then_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.interpolate(x, scale_factor=2.0), conv.weight, conv.bias, padding=1)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("channels_last", [True, False])
def test_upsampled_conv_is_the_conv_of_the_upsampled_input(bias: bool,
                                                           channels_last: bool) -> None:
    torch.manual_seed(0)
    conv = UpsampledConv(5, 3, bias=bias).to(DOUBLE)
    x = torch.randn(2, 5, 4, 6, dtype=DOUBLE)  # not square: rows and columns kept apart
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    grad = torch.randn(2, 3, 8, 12, dtype=DOUBLE)
    fast = conv(x)
    fast_grads = torch.autograd.grad(fast, [x, *conv.parameters()], grad)
    plain = upsampled_then_conv(conv, x)
    plain_grads = torch.autograd.grad(plain, [x, *conv.parameters()], grad)
    assert fast.shape == plain.shape == (2, 3, 8, 12)
    torch.testing.assert_close(fast, plain)
    for mine, theirs in zip(fast_grads, plain_grads, strict=True):
        torch.testing.assert_close(mine, theirs)
    assert fast.is_contiguous(memory_format=torch.channels_last)


def test_upsampled_conv_differentiates_twice() -> None:
    # the gather of the four kernels' outputs has a hand-written backward: check it, and its own
    torch.manual_seed(0)
    conv = UpsampledConv(2, 2).to(DOUBLE)
    x = torch.randn(1, 2, 3, 2, dtype=DOUBLE, requires_grad=True)
    weight, bias = (p.detach().requires_grad_(True) for p in (conv.weight, conv.bias))

    def function(x, weight, bias):
        return torch.func.functional_call(conv, {"weight": weight, "bias": bias}, (x,))

    assert torch.autograd.gradcheck(function, (x, weight, bias))
    assert torch.autograd.gradgradcheck(function, (x, weight, bias))


def test_upsampled_conv_loads_a_plain_convs_weights() -> None:
    plain = nn.Conv2d(4, 6, 3, 1, 1)
    fast = UpsampledConv(4, 6)
    fast.load_state_dict(plain.state_dict())
    x = torch.randn(1, 4, 5, 5)
    torch.testing.assert_close(fast(x), upsampled_then_conv(plain, x), atol=1e-5, rtol=1e-5)


def test_upsampled_conv_sampling_follows_weight_changes() -> None:
    # without gradients the folded kernels are kept; any change of the weights must renew them
    torch.manual_seed(0)
    conv, x = UpsampledConv(3, 2), torch.randn(1, 3, 4, 4)
    with torch.inference_mode():
        conv(x)
    with torch.no_grad():
        conv.weight.add_(1.0)  # as an optimizer or the EMA would
        torch.testing.assert_close(conv(x), upsampled_then_conv(conv, x))
        conv.load_state_dict(nn.Conv2d(3, 2, 3, 1, 1).state_dict())
        torch.testing.assert_close(conv(x), upsampled_then_conv(conv, x))
    torch.testing.assert_close(conv(x), upsampled_then_conv(conv, x))  # with gradients


def test_df_gan_blocks_compute_the_official_order() -> None:
    """DF-GAN's official blocks: up-sample, fuse, conv, ..., the shortcut on the up-sampled map
    (G); the shortcut's conv before the pooling (D)."""
    torch.manual_seed(0)
    up, down = df_gan.UpBlock(6, 4, 2).to(DOUBLE), df_gan.DownBlock(3, 5).to(DOUBLE)
    for p in [*up.parameters(), *down.parameters()]:  # away from the identity start
        nn.init.normal_(p, 0.0, 0.5)
    x, cond = torch.randn(2, 4, 3, 5, dtype=DOUBLE), torch.randn(2, 6, dtype=DOUBLE)
    big = F.interpolate(x, scale_factor=2.0)
    conv1 = F.conv2d(up.fuse1(big, cond), up.conv1.weight, up.conv1.bias, padding=1)
    official_up = up.shortcut(big) + up.conv2(up.fuse2(conv1, cond))
    torch.testing.assert_close(up(x, cond), official_up)
    image = torch.randn(2, 3, 8, 6, dtype=DOUBLE)
    official_down = F.avg_pool2d(down.shortcut(image), 2) + down.gamma * down.residual(image)
    torch.testing.assert_close(down(image), official_down)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("channels_last", [True, False])
def test_grid_projection_is_the_transposed_conv_of_a_vector(bias: bool,
                                                            channels_last: bool) -> None:
    torch.manual_seed(0)
    fast = GridProjection(5, 3, (3, 4), bias=bias).to(DOUBLE)  # 4:3 sizes start from 4x3
    if channels_last:  # as the trainer keeps it: then the grid comes out channels_last too
        fast = fast.to(memory_format=torch.channels_last)
    x = torch.randn(2, 5, 1, 1, dtype=DOUBLE, requires_grad=True)
    grad = torch.randn(2, 3, 3, 4, dtype=DOUBLE)
    mine = fast(x)
    theirs = F.conv_transpose2d(x, fast.weight, fast.bias)
    torch.testing.assert_close(mine, theirs)
    for a, b in zip(torch.autograd.grad(mine, [x, *fast.parameters()], grad),
                    torch.autograd.grad(theirs, [x, *fast.parameters()], grad), strict=True):
        torch.testing.assert_close(a, b)
    assert mine.is_contiguous(memory_format=torch.channels_last) or not channels_last
    with pytest.raises(ValueError, match="1, 1"):
        fast(torch.randn(2, 5, 2, 2, dtype=DOUBLE))


def test_matching_head_is_the_papers_convs_of_features_and_tiled_code() -> None:
    torch.manual_seed(0)
    head = gan_int_cls.MatchingHead(6, 3).to(DOUBLE).to(memory_format=torch.channels_last)
    nn.init.normal_(head[0].bias)
    features = torch.randn(2, 6, 4, 4, dtype=DOUBLE, requires_grad=True)
    code = torch.randn(2, 3, dtype=DOUBLE, requires_grad=True)
    mine = head.judge(head.see(features.contiguous(memory_format=torch.channels_last)), code)
    tiled = code[:, :, None, None].expand(-1, -1, 4, 4)
    theirs = nn.Sequential.forward(head, torch.cat([features, tiled], dim=1)).flatten()
    assert mine.shape == (2,)
    torch.testing.assert_close(mine, theirs)
    inputs = [features, code, *head.parameters()]
    for a, b in zip(torch.autograd.grad(mine.sum(), inputs),
                    torch.autograd.grad(theirs.sum(), inputs), strict=True):
        torch.testing.assert_close(a, b)
    assert [name for name, _ in head.named_parameters()] == ["0.weight", "0.bias", "2.weight"]
