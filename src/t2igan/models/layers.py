"""Building blocks shared by the models."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): conv weights N(0, 0.02), BN scale N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def text_projection(text_dim: int, code_dim: int) -> nn.Sequential:
    """Sentence vector -> small text code: Linear + leaky ReLU, as in Reed et al. 2016."""
    return nn.Sequential(nn.Linear(text_dim, code_dim), nn.LeakyReLU(0.2, inplace=True))


class GridProjection(nn.ConvTranspose2d):
    """A transposed convolution of a 1x1 input (a vector) to a k x k grid, computed as the matrix
    product it is: oneDNN's general transposed-conv kernels took 2.3 ms of a 13 ms GAN-INT-CLS G
    pass (forward and backward, batch 32, bf16) for what one product does in a fraction. Same
    parameters as nn.ConvTranspose2d(c_in, c_out, kernel_size)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int | tuple[int, int],
                 bias: bool = True) -> None:
        super().__init__(c_in, c_out, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2:] != (1, 1):
            raise ValueError(f"GridProjection takes (B, C, 1, 1), not {tuple(x.shape)}")
        # the weight's (c_in, k, k, c_out) order: a view of a channels_last weight (as the trainer
        # keeps it), and the product then comes out channels_last with no copy of either
        weight = self.weight.permute(0, 2, 3, 1)
        grid = (x.flatten(1) @ weight.flatten(1)).view(len(x), *weight.shape[1:])
        if self.bias is not None:
            grid = grid + self.bias
        return grid.permute(0, 3, 1, 2)


def doublings(size: int, start: int = 4) -> int:
    """How many x2 steps lead from `start` to `size` pixels (size must be start * 2^k)."""
    steps = int(round(math.log2(size / start)))
    if steps < 1 or start * 2**steps != size:
        raise ValueError(f"{size} is not {start} times a power of two")
    return steps


def base_grid(size: tuple[int, int]) -> tuple[int, int, int]:
    """(width, height) -> (w0, h0, steps): the smallest feature grid and the x2 steps to the image.

    Square images grow from 4x4; 4:3 images (LSUN Car's 512x384) from 4 wide by 3 high.
    """
    width, height = size
    if width == height:
        w0, h0 = 4, 4
    elif width * 3 == height * 4:
        w0, h0 = 4, 3
    else:
        raise ValueError(f"{width}x{height} is neither square nor 4:3")
    steps = doublings(width, w0)
    if h0 * 2**steps != height:
        raise ValueError(f"{width}x{height} is not {w0}x{h0} times a power of two")
    return w0, h0, steps


def _fold_matrix() -> torch.Tensor:
    """(16, 9): which of a 3x3 kernel's taps each of the four 2x2 kernels sums, row (a, b, r, s)
    for tap (r, s) of the kernel of cell position (a, b).

    Along one axis, output 2i sees the up-sampled pixels 2i-1, 2i, 2i+1, which are x[i-1], x[i],
    x[i]; output 2i+1 sees x[i], x[i], x[i+1]. Both read x[q-1] and x[q] (q = i for the even
    pixel, i + 1 for the odd): the even one with taps (-1) and (0 + 1), the odd with (-1 + 0)
    and (+1)."""
    taps = torch.tensor([[[1.0, 0, 0], [0, 1, 1]],  # even: (x[q-1], x[q]) from taps -1, 0, +1
                         [[1.0, 1, 0], [0, 0, 1]]])  # odd
    return torch.einsum("ark,bsl->abrskl", taps, taps).reshape(16, 9)


_FOLD = _fold_matrix()


def _gather_cells(grid: torch.Tensor) -> torch.Tensor:
    """(n, h+1, w+1, 2, 2, c) kernel outputs -> (n, h, 2, w, 2, c) pixels: the pixel (2i + a,
    2j + b) is kernel (a, b) at (i + a, j + b)."""
    n, rows, cols, _, _, c = grid.shape
    h, w = rows - 1, cols - 1
    pixels = grid.new_empty(n, h, 2, w, 2, c)
    for a in (0, 1):
        for b in (0, 1):
            pixels[:, :, a, :, b].copy_(grid[:, a:a + h, b:b + w, a, b])
    return pixels


def _scatter_cells(pixels: torch.Tensor) -> torch.Tensor:
    """The adjoint of `_gather_cells`: each pixel back to its kernel's place, zeros elsewhere."""
    n, h, _, w, _, c = pixels.shape
    grid = pixels.new_zeros(n, h + 1, w + 1, 2, 2, c)
    for a in (0, 1):
        for b in (0, 1):
            grid[:, a:a + h, b:b + w, a, b].copy_(pixels[:, :, a, :, b])
    return grid


class _GatherCells(torch.autograd.Function):
    # autograd's own backward of four slices would zero and add four grid-sized tensors
    @staticmethod
    def forward(ctx, grid: torch.Tensor) -> torch.Tensor:
        return _gather_cells(grid)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _ScatterCells.apply(grad)


class _ScatterCells(torch.autograd.Function):
    # the gather's adjoint: each is the other's backward, so both differentiate any number of
    # times (MA-GP-style penalties differentiate twice)
    @staticmethod
    def forward(ctx, pixels: torch.Tensor) -> torch.Tensor:
        return _scatter_cells(pixels)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _GatherCells.apply(grad)


class UpsampledConv(nn.Conv2d):
    """A 3x3 convolution (padding 1) of its input up-sampled x2 nearest, computed on the input.

    The up-sampled grid repeats every pixel four times, so each of the four output pixels of a
    2x2 cell sees only a 2x2 window of the input: the 3x3 kernel folds into four 2x2 kernels, one
    per position in the cell, and a single convolution of the input yields all four (4 x 4 taps
    per cell instead of 4 x 9: 0.44-0.69x the FLOPs, less the larger the grid). The same weights
    and the same function as `conv(F.interpolate(x, scale_factor=2))`, up to float rounding; the
    parameters keep nn.Conv2d's names, so checkpoints of the two load into each other."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True) -> None:
        super().__init__(c_in, c_out, 3, 1, 1, bias=bias)
        self._cached: tuple[tuple, tuple[torch.Tensor, torch.Tensor | None]] | None = None

    def _fold(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(4 * c_out, c_in, 2, 2) kernels of cell positions (0,0), (0,1), (1,0), (1,1), and
        their bias; one product, in the weights' own precision (autocast off: exact sums)."""
        o, c = self.weight.shape[:2]
        with torch.autocast(self.weight.device.type, enabled=False):
            fold = _FOLD.to(self.weight)
            kernels = (fold @ self.weight.reshape(o * c, 9).T).view(4, 2, 2, o, c)
        kernels = kernels.permute(0, 3, 4, 1, 2).reshape(4 * o, c, 2, 2)
        return kernels, None if self.bias is None else self.bias.repeat(4)

    def _kernels(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The folded kernels; kept while sampling (no gradients), where folding costs as much as
        the conv of one image, and made anew whenever the weights changed."""
        if torch.is_grad_enabled():
            return self._fold()
        key = tuple((p.data_ptr(), p._version, p.dtype) for p in self.parameters())
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self._fold())
        return self._cached[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        kernels, bias = self._kernels()
        # at (q, r) of the (h+1, w+1) grid each kernel reads x[q-1:q+1, r-1:r+1]
        y = F.conv2d(x, kernels, bias, padding=1)  # (n, 4 * c_out, h + 1, w + 1)
        c_out = self.out_channels
        grid = y.permute(0, 2, 3, 1).unflatten(3, (2, 2, c_out))  # (n, h+1, w+1, a, b, c_out)
        pixels = _GatherCells.apply(grid).view(n, 2 * h, 2 * w, c_out)
        return pixels.permute(0, 3, 1, 2)  # channels_last, whatever x's layout
