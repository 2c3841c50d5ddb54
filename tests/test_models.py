"""The model zoo: shapes at every size, the losses' defining properties, config resolution."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from t2igan import losses
from t2igan.config import TrainConfig
from t2igan.errors import UserError
from t2igan.models import MODELS, df_gan, get_model, resolve
from t2igan.models.base import Noise
from t2igan.models.gan_int_cls import Discriminator, Objective
from t2igan.models.objective import Batch, Generated, mismatch

TEXT_DIM = 20
SMALL = dict(ngf=8, ndf=8, nz=10, text_code=6, lr=1e-4, lr_d=1e-4, beta1=0.5, beta2=0.9)


def small_config(model: str, size: tuple[int, int]) -> TrainConfig:
    stage = 2 if model == "stackgan" and size == (256, 256) else 1
    return TrainConfig(model=model, image_size=f"{size[0]}x{size[1]}", stage=stage, **SMALL)


@pytest.mark.parametrize("model,size", [(m, s) for m, spec in MODELS.items() for s in spec.sizes])
def test_every_model_makes_every_size_it_states(model: str, size: tuple[int, int]) -> None:
    cfg = small_config(model, size)
    G, D = get_model(model).build(TEXT_DIM, cfg, 5)
    text = torch.randn(3, TEXT_DIM)
    images = G(torch.randn(3, G.noise_dim), text)
    width, height = size
    assert images.shape == (3, 3, height, width)
    assert images.min() >= -1 and images.max() <= 1  # tanh output: the model convention
    # Each objective runs both phases on these shapes and gives finite losses.
    # --mismatches 2: every image judged with the batch's two other captions
    batch, noise = (Batch(images.detach(), text, torch.tensor([0, 1, 4]), mismatch(text, 2)),
                    Noise(G.noise_dim, torch.Generator()))
    objective = get_model(model).objective(cfg)
    generated = objective.generate(G, batch, noise)
    assert torch.isfinite(objective.discriminator_loss(D, batch, generated)[0])
    assert torch.isfinite(objective.generator_loss(G, D, batch, generated, noise)[0])


@pytest.mark.parametrize("model", [m for m in MODELS if m != "stackgan"])  # D reads G's code
def test_d_judges_k_mismatched_captions_as_k_separate_calls_would(model: str) -> None:
    width, height = get_model(model).sizes[0]
    _, D = get_model(model).build(TEXT_DIM, small_config(model, (width, height)), 5)
    torch.manual_seed(0)
    images, text = torch.rand(4, 3, height, width) * 2 - 1, torch.randn(4, TEXT_DIM)
    with torch.no_grad():
        together = D(images, text, mismatch(text, 3)).mismatched
        apart = torch.cat([D(images, text, text.roll(k, 0)).mismatched for k in (1, 2, 3)])
    assert together.shape[0] == 12 and torch.allclose(together, apart, atol=1e-5)
    assert not torch.allclose(apart[:4], apart[4:8])  # the rolls are other captions


def _nearest_differing(text: torch.Tensor, count: int) -> tuple[list[int], list[bool]]:
    """A slow reference for `mismatch`: for each k and image i, the k-th earlier caption (walking
    back cyclically) that differs from i's, else the k-th roll; and whether it differs."""
    n, picks, differs = len(text), [], []
    for k in range(1, count + 1):
        for i in range(n):
            back = [j % n for j in range(i - 1, i - n, -1) if not torch.equal(text[j % n], text[i])]
            picks.append(back[k - 1] if len(back) >= k else (i - k) % n)
            differs.append(len(back) >= k)
    return picks, differs


def test_distinct_captions_pair_as_the_rolled_batch() -> None:
    text = torch.randn(6, TEXT_DIM)
    for count in (1, 2, 5):
        rolled = torch.cat([text.roll(k, 0) for k in range(1, count + 1)])
        assert torch.equal(mismatch(text, count), rolled)  # bit-identical to DF-GAN's pairing


@pytest.mark.parametrize("seed", range(4))
def test_few_captions_pair_each_image_with_the_nearest_caption_that_differs(seed: int) -> None:
    torch.manual_seed(seed)
    captions = torch.randn(3, TEXT_DIM)
    text = captions[torch.randint(3, (8,))]  # three captions over eight images: many repeats
    picks, differs = _nearest_differing(text, 3)
    mismatched = mismatch(text, 3)
    assert torch.equal(mismatched, text[picks])
    assert Batch(torch.zeros(8, 3, 4, 4), text, mismatched=mismatched).differs.tolist() == differs


def test_one_caption_for_all_leaves_the_mismatched_term_out() -> None:
    text = torch.randn(1, TEXT_DIM).expand(4, -1)  # a folder of cats: "a photo of a cat"
    batch = Batch(torch.zeros(4, 3, 8, 8), text)
    assert not batch.differs.any()
    real, fake = torch.randn(4), torch.randn(4)
    wrong = torch.randn(4, requires_grad=True)
    loss = losses.hinge_d_loss(real, wrong, fake, batch.differs)
    assert torch.allclose(loss, F.relu(1 - real).mean() + F.relu(1 + fake).mean())
    loss.backward()
    assert not wrong.grad.any()  # a real image with its own caption is never pushed to fake


def test_the_mismatched_term_averages_over_the_pairs_that_differ() -> None:
    real, fake, wrong = torch.zeros(4, 3), torch.randn(4, 3), torch.randn(4, 3)  # (B, N) patches
    differs = torch.tensor([True, False, True, False])
    expected = (F.softplus(-real).mean()
                + 0.5 * (F.softplus(wrong[[0, 2]]).mean() + F.softplus(fake).mean()))
    assert torch.allclose(losses.matching_aware_d_loss(real, wrong, fake, differs), expected)
    # all differing: the unmasked GAN-CLS loss, as before
    assert torch.allclose(losses.matching_aware_d_loss(real, wrong, fake, differs | True),
                          losses.matching_aware_d_loss(real, wrong, fake))


class ShiftMismatched(torch.nn.Module):
    """D with its verdicts on mismatched captions moved far off: a loss that reads them changes."""

    def __init__(self, D: torch.nn.Module) -> None:
        super().__init__()
        self.D = D

    def forward(self, images, text, mismatched=None, labels=None):  # base.Discriminator's
        judged = self.D(images, text, mismatched, labels)
        if judged.mismatched is not None:
            judged.mismatched = judged.mismatched + 100
        return judged


@pytest.mark.parametrize("model", list(MODELS))
def test_every_objective_ignores_mismatched_pairs_with_the_images_own_caption(model: str) -> None:
    width, height = get_model(model).sizes[0]
    cfg = small_config(model, (width, height))
    G, D = get_model(model).build(TEXT_DIM, cfg, 5)
    torch.manual_seed(0)
    text = torch.randn(1, TEXT_DIM).expand(3, -1).contiguous()  # one caption for the batch
    batch = Batch(torch.rand(3, 3, height, width) * 2 - 1, text, torch.tensor([0, 1, 4]),
                  mismatch(text, 2))
    objective = get_model(model).objective(cfg)
    generated = objective.generate(G, batch, Noise(G.noise_dim, torch.Generator()))
    plain = objective.discriminator_loss(D, batch, generated)[0]
    shifted = objective.discriminator_loss(ShiftMismatched(D), batch, generated)[0]
    assert torch.allclose(plain, shifted)
    # the control: with captions that differ, the shift shows in the loss
    other = dataclasses.replace(batch, text=torch.randn(3, TEXT_DIM), mismatched=None,
                                differs=None, captions=None)
    generated = objective.generate(G, other, Noise(G.noise_dim, torch.Generator()))
    assert not torch.allclose(objective.discriminator_loss(D, other, generated)[0],
                              objective.discriminator_loss(ShiftMismatched(D), other, generated)[0])


def test_mismatches_must_leave_an_image_its_own_caption(tmp_path) -> None:
    from t2igan.training.loop import Trainer

    cfg = TrainConfig(model="gan-int-cls", image_size="32", batch_size=4, mismatches=4,
                      num_images=8, **SMALL)
    with pytest.raises(UserError, match="--mismatches 4 needs more than 4 images a step"):
        Trainer(cfg, tmp_path, progress=False)


def test_df_gan_grows_4_by_3_images_from_a_4_by_3_grid() -> None:
    G, D = get_model("df-gan").build(TEXT_DIM, small_config("df-gan", (512, 384)))
    assert G.grid[1:] == (3, 4)  # (height, width) of the first feature map
    # D's head convolves its last grid whole: one logit per image only if that grid is 3 high,
    # 4 wide
    assert D(torch.randn(2, 3, 384, 512), torch.randn(2, TEXT_DIM)).logits.shape == (2,)


def test_unsupported_size_names_the_sizes() -> None:
    with pytest.raises(UserError, match="cannot make 48x48.*64x64"):
        get_model("gan-int-cls").check_size((48, 48))
    with pytest.raises(UserError, match="df-gan cannot make 32x32.*512x384"):
        get_model("df-gan").check_size((32, 32))
    with pytest.raises(UserError, match="unknown model"):
        get_model("no-such-gan")


def test_resolve_fills_the_models_paper_settings_and_keeps_given_ones() -> None:
    df = resolve(TrainConfig())
    assert ((df.model, df.lr, df.lr_d, df.beta1, df.beta2, df.ngf, df.image_size)
            == ("df-gan", 1e-4, 4e-4, 0.0, 0.9, 32, "64"))
    stack = resolve(TrainConfig(model="stackgan", lr=5e-4))
    assert (stack.lr, stack.lr_d, stack.ngf, stack.ndf, stack.beta1) == (5e-4, 5e-4, 128, 64, 0.5)
    assert resolve(TrainConfig(model="tac-gan")).label == "subject+color"
    with pytest.raises(UserError, match="needs --stage1-run"):
        resolve(TrainConfig(model="stackgan", stage=2))


# -- losses --------------------------------------------------------------------------------------

def test_matching_aware_loss_penalises_a_confident_mismatch() -> None:
    right, wrong, fake = torch.zeros(4), torch.zeros(4, requires_grad=True), torch.zeros(4)
    losses.matching_aware_d_loss(right, wrong, fake).backward()
    assert (wrong.grad > 0).all()  # raising D's score of (real image, wrong text) raises its loss


class NoiseGenerator:
    """A stand-in G whose fakes are uniform noise: D's real-vs-fake job is easy."""
    noise_dim = 4

    def __call__(self, z: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return torch.rand(len(text), 3, 32, 32) * 2 - 1


def _plain_gan_d_loss(real_right: torch.Tensor, real_wrong: torch.Tensor,
                      fake_right: torch.Tensor, differs: torch.Tensor | None) -> torch.Tensor:
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
    objective, noise = Objective(), Noise(NoiseGenerator.noise_dim,
                                          torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    for _ in range(100):
        batch = Batch(real, text)
        loss, _ = objective.discriminator_loss(D, batch,
                                               objective.generate(NoiseGenerator(), batch, noise))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        judged = D(real, text, text.roll(1, 0))
        return (torch.sigmoid(judged.logits) - torch.sigmoid(judged.mismatched)).mean().item()


def test_matching_aware_d_learns_to_read_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _text_gap_after_training(monkeypatch, losses.matching_aware_d_loss) > 0.3


def test_without_the_mismatched_pair_d_ignores_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # The control: the test above passes only because of the mismatched-text term.
    assert abs(_text_gap_after_training(monkeypatch, _plain_gan_d_loss)) < 0.2


def test_ma_gp_flows_to_image_and_text_and_into_d() -> None:
    torch.manual_seed(0)
    _, D = get_model("df-gan").build(TEXT_DIM, small_config("df-gan", (64, 64)))
    for gamma in (m for name, m in D.named_parameters() if name.endswith("gamma")):
        gamma.data.fill_(0.5)  # residual branches on, as after some training
    image = torch.randn(4, 3, 64, 64, requires_grad=True)
    text = torch.randn(4, TEXT_DIM, requires_grad=True)
    logits = D(image, text).logits
    grad_image, grad_text = torch.autograd.grad(logits.sum(), (image, text), retain_graph=True)
    # D's output depends on both inputs
    assert grad_image.abs().sum() > 0 and grad_text.abs().sum() > 0
    penalty = losses.matching_aware_gradient_penalty(logits, image, text, k=2.0, p=6.0)
    norm = (grad_image.flatten(1).square().sum(1) + grad_text.square().sum(1)).sqrt()
    # one norm over image and text together
    assert torch.allclose(penalty, 2.0 * norm.pow(6).mean())
    penalty.backward()
    grads = [p.grad for p in D.parameters() if p.grad is not None]
    assert (grads and all(torch.isfinite(g).all() for g in grads)
            and sum(g.abs().sum() for g in grads) > 0)


def test_lazy_ma_gp_runs_every_nth_step_n_times_as_strong() -> None:
    torch.manual_seed(0)
    _, D = get_model("df-gan").build(TEXT_DIM, small_config("df-gan", (64, 64)))
    for gamma in (m for name, m in D.named_parameters() if name.endswith("gamma")):
        gamma.data.fill_(0.5)
    real, text = torch.randn(4, 3, 64, 64), torch.randn(4, TEXT_DIM)
    fake = Generated(torch.randn(4, 3, 64, 64), text)

    def d_loss(every: int, step: int) -> tuple[torch.Tensor, dict]:
        objective = df_gan.Objective(penalty_every=every)
        return objective.discriminator_loss(D, Batch(real, text, step=step), fake)

    loss_1, stats_1 = d_loss(1, step=5)
    loss_4, stats_4 = d_loss(4, step=8)  # a multiple of 4: penalised, four times as strongly
    assert torch.allclose(stats_4["ma_gp"], 4 * stats_1["ma_gp"])
    assert torch.allclose(loss_4 - stats_4["ma_gp"], loss_1 - stats_1["ma_gp"])
    loss_off, stats_off = d_loss(4, step=9)  # between: the hinge loss alone
    assert "ma_gp" not in stats_off
    assert torch.allclose(loss_off, loss_1 - stats_1["ma_gp"])


def test_gp_every_is_an_error_for_a_model_without_ma_gp() -> None:
    with pytest.raises(UserError, match="--gp-every: gan-int-cls has no MA-GP"):
        resolve(TrainConfig(model="gan-int-cls", gp_every=4))
    with pytest.raises(UserError, match="--gp-every: df-gan"):
        resolve(TrainConfig(model="df-gan", gp_every=4, d_backbone="efficientnet-lite0"))
    assert resolve(TrainConfig(model="df-gan", gp_every=2)).gp_every == 2
    assert resolve(TrainConfig(model="df-gan")).gp_every == 4  # DF-GAN's default
    assert resolve(TrainConfig(model="gan-int-cls")).gp_every == 1
    assert resolve(TrainConfig(model="fastgan")).gp_every == 1  # its frozen-feature D: no MA-GP


def test_ca_kl_term_matches_the_closed_form() -> None:
    mu, logvar = torch.randn(8, 16), torch.randn(8, 16)
    sigma = (0.5 * logvar).exp()
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(mu, sigma),
                                                 torch.distributions.Normal(0.0, 1.0)).mean()
    assert torch.allclose(losses.kl_to_standard_normal(mu, logvar), expected, atol=1e-6)
    # N(0, I) itself
    assert losses.kl_to_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)) == 0


def test_d2d_ce_is_lower_for_the_right_class() -> None:
    torch.manual_seed(0)
    proxies = F.normalize(torch.randn(4, 32), dim=1)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    embed = proxies[labels] + 0.05 * torch.randn(6, 32)  # each image near its own class proxy
    right = losses.data_to_data_cross_entropy(embed, proxies[labels], labels)
    wrong_labels = (labels + 1) % 4
    wrong = losses.data_to_data_cross_entropy(embed, proxies[wrong_labels], wrong_labels)
    assert right < wrong


def test_d2d_ce_ignores_same_class_pairs_as_negatives() -> None:
    embed = F.normalize(torch.ones(2, 8), dim=1)  # two identical images
    same = losses.data_to_data_cross_entropy(embed, embed, torch.tensor([0, 0]))
    different = losses.data_to_data_cross_entropy(embed, embed, torch.tensor([0, 1]))
    # Same class: no negatives, and the proxy is the image itself (cosine 1 > margin): zero loss.
    assert same.item() == pytest.approx(0.0, abs=1e-6) and different > 0.5


def test_hinge_losses() -> None:
    assert losses.hinge_d_loss(torch.full((3,), 2.0), torch.full((3,), -2.0),
                               torch.full((3,), -2.0)) == 0
    assert losses.hinge_d_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3)) == 2
    assert losses.hinge_g_loss(torch.tensor([1.0, 3.0])) == -2


def test_stackgan_stage2_keeps_stage1_frozen_and_in_eval_mode() -> None:
    cfg = dataclasses.replace(small_config("stackgan", (256, 256)))
    G, _ = get_model("stackgan").build(TEXT_DIM, cfg)
    G.train()
    assert not G.stage1.training and not any(p.requires_grad for p in G.stage1.parameters())
    # image noise + both stages' CA epsilon
    assert G.noise_dim == G.stage1.noise_dim + cfg.text_code


def test_stage2_d_loss_weights_real_terms_by_half_and_fake_terms_by_a_third() -> None:
    zero = torch.zeros(4)
    log2 = torch.log(torch.tensor(2.0))  # softplus(0)
    assert torch.allclose(
        losses.matching_aware_d_loss_with_unconditional(zero, zero, zero, zero, zero), 2 * log2)
    confident = losses.matching_aware_d_loss_with_unconditional(zero + 9, zero + 9, zero - 9,
                                                                zero - 9, zero - 9)
    assert confident < 1e-3


def test_fastgan_glu_is_f_glu_and_keeps_the_gradient_channels_last() -> None:
    # F.glu hands back its input's gradient in the other memory format on channels_last maps,
    # and the batch norm before it then runs its backward 3x slower
    from t2igan.models.fastgan import glu

    x = torch.randn(4, 8, 16, 16).to(memory_format=torch.channels_last).requires_grad_()
    torch.testing.assert_close(glu(x), F.glu(x, dim=1))
    glu(x).sum().backward()
    assert x.grad.is_contiguous(memory_format=torch.channels_last)
