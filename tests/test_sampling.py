"""Generation: same seed, same images, whatever the batch the generator makes them in."""

import pytest
import torch
from torch import nn

from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.models import MODELS, get_model
from t2igan.sampling import for_sampling, generate

TEXT_DIM = 12


class PerImage(nn.Module):
    """A generator with no arithmetic across images or within a matmul: each image depends on its
    own noise and sentence only, bit for bit, whatever the batch. It records what it was given."""

    noise_dim = 5

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(0.3))
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        self.calls.append((z, text))
        pixels = torch.cat([z, text], dim=1) * self.scale  # (B, 5 + TEXT_DIM)
        return pixels.tanh()[:, None, None, :].expand(-1, 3, 4, -1)  # (B, 3, 4, 17)


@pytest.mark.parametrize("batch_size", [1, 4, 6, 100])
def test_chunks_make_the_images_of_one_batch(batch_size: int) -> None:
    G, text = PerImage(), torch.randn(3, TEXT_DIM)
    whole = generate(G, text, num=2, seed=7, batch_size=6)  # 3 prompts x 2 = 6: one batch
    z_whole = G.calls[0][0]
    G.calls.clear()
    chunked = generate(G, text, num=2, seed=7, batch_size=batch_size)
    assert [len(z) for z, _ in G.calls] == [min(batch_size, 6 - i) for i in range(0, 6, batch_size)]
    assert torch.equal(torch.cat([z for z, _ in G.calls]), z_whole)  # noise drawn once, then split
    assert torch.equal(torch.cat([t for _, t in G.calls]), text.repeat_interleave(2, dim=0))
    assert torch.equal(chunked, whole)
    assert not torch.equal(generate(G, text, num=2, seed=8), whole)  # another seed, other images


def test_images_are_an_ordinary_contiguous_tensor() -> None:
    images = generate(PerImage(), torch.randn(2, TEXT_DIM), num=3, seed=0, batch_size=4)
    assert images.shape == (6, 3, 4, 5 + TEXT_DIM) and images.dtype == torch.uint8
    assert images.is_contiguous() and not images.is_inference()
    images.add_(1)  # callers may change it in place
    with pytest.raises(UserError, match="batch size must be at least 1"):
        generate(PerImage(), torch.randn(2, TEXT_DIM), num=1, seed=0, batch_size=0)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_zoo_generators_give_the_same_images_in_chunks(model: str) -> None:
    """The zoo's eval-mode generators have no batch-dependent layer (batch norm uses its running
    statistics): chunks change only the order of a matmul's sums (MKL picks its kernel by the
    batch size), so a pixel moves by at most 1 of 255, and only where it lies on a rounding
    boundary."""
    cfg = TrainConfig(model=model, image_size="64", ngf=8, ndf=8, nz=10, text_code=6)
    G = for_sampling(get_model(model).build(TEXT_DIM, cfg, 3)[0])
    for module in G.modules():  # statistics a trained G would have, not the identity ones
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    conv = next(m for m in G.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    text = torch.randn(3, TEXT_DIM)
    whole = generate(G, text, num=4, seed=1).int()
    chunked = generate(G, text, num=4, seed=1, batch_size=5).int()
    assert torch.equal(generate(G, text, num=4, seed=1).int(), whole)  # same seed, same images
    assert (chunked - whole).abs().max() <= 1
    assert (chunked != whole).float().mean() < 0.01


def test_low_precision_sampling_is_autocast_with_fp32_images() -> None:
    """precision bf16: G runs under bf16 autocast (its convolutions compute in bf16) and hands
    back fp32 images close to fp32's; fp32 (the default) leaves G as it is."""
    cfg = TrainConfig(model="df-gan", image_size="64", ngf=8, ndf=8, nz=10)
    G = get_model("df-gan").build(TEXT_DIM, cfg, 0)[0]
    assert for_sampling(G) is G
    low = for_sampling(G, precision="bf16")
    assert low.noise_dim == G.noise_dim
    z, text = torch.randn(4, G.noise_dim), torch.randn(4, TEXT_DIM)
    inner = []
    G.to_rgb[1].register_forward_hook(lambda module, inputs, out: inner.append(out.dtype))
    with torch.inference_mode():
        exact, fast = G(z, text), low(z, text)
    assert inner == [torch.float32, torch.bfloat16] and fast.dtype == torch.float32
    assert 0 < (fast - exact).abs().max() < 0.1  # in [-1, 1]: a few levels of 255
    with pytest.raises(UserError, match="precision must be one of"):
        for_sampling(G, precision="fp8")
