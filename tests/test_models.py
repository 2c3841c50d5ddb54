import pytest
import torch
import torch.nn.functional as F

from t2igan import losses
from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.models import get_model
from t2igan.models.gan_int_cls import Discriminator, Objective


@pytest.mark.parametrize("side", [32, 64, 128])
def test_gan_int_cls_shapes(side: int) -> None:
    cfg = TrainConfig(image_size=str(side), ngf=8, ndf=8, nz=10, text_code=6)
    G, D = get_model("gan-int-cls").build(20, cfg)
    images = G(torch.randn(3, 10), torch.randn(3, 20))
    assert images.shape == (3, 3, side, side)
    assert images.min() >= -1 and images.max() <= 1  # tanh output: the model convention
    assert D(images, torch.randn(3, 20)).shape == (3,)
    assert D.features(images).shape[-2:] == (4, 4)  # the text code is tiled onto 4x4 features


def test_unsupported_size_names_the_sizes() -> None:
    with pytest.raises(UserError, match="cannot make 48x48.*64x64"):
        get_model("gan-int-cls").check_size((48, 48))
    with pytest.raises(UserError, match="unknown model"):
        get_model("no-such-gan")


def test_matching_aware_loss_penalises_a_confident_mismatch() -> None:
    right, wrong, fake = torch.zeros(4), torch.zeros(4, requires_grad=True), torch.zeros(4)
    losses.matching_aware_d_loss(right, wrong, fake).backward()
    assert (wrong.grad > 0).all()  # raising D's score of (real image, wrong text) raises its loss


def _plain_gan_d_loss(real_right: torch.Tensor, real_wrong: torch.Tensor, fake_right: torch.Tensor) -> torch.Tensor:
    """The same loss with the mismatched-text term dropped: a control for the test below."""
    return F.softplus(-real_right).mean() + F.softplus(fake_right).mean()


def _text_gap_after_training(monkeypatch: pytest.MonkeyPatch, loss) -> float:
    """Train a tiny D through GAN-INT-CLS's objective on solid-colour images whose caption is
    their colour (one-hot); return how much more D believes right captions than wrong ones."""
    monkeypatch.setattr(losses, "matching_aware_d_loss", loss)
    torch.manual_seed(0)
    palette = torch.tensor([[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, -1]], dtype=torch.float)
    colors = torch.arange(16) % 4  # neighbours differ, so the rolled caption is always wrong
    real = palette[colors][:, :, None, None].expand(-1, -1, 32, 32).contiguous()
    text = F.one_hot(colors, 4).float()
    D = Discriminator(text_dim=4, image_size=32, ndf=8, text_code=8)
    noise_G = lambda z, t: torch.rand(len(t), 3, 32, 32) * 2 - 1  # fakes are noise: D's job is easy
    objective, rng = Objective(nz=4), torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    for _ in range(100):
        loss, _ = objective.discriminator_loss(noise_G, D, real, text, rng)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (torch.sigmoid(D(real, text)) - torch.sigmoid(D(real, text.roll(1, 0)))).mean().item()


def test_matching_aware_d_learns_to_read_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _text_gap_after_training(monkeypatch, losses.matching_aware_d_loss) > 0.3


def test_without_the_mismatched_pair_d_ignores_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # The control: the test above passes only because of the mismatched-text term.
    assert abs(_text_gap_after_training(monkeypatch, _plain_gan_d_loss)) < 0.2
