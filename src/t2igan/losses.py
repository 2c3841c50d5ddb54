"""Loss functions: pure functions of logits and tensors, no models inside.

Logits are raw D outputs; softplus(-x) = -log sigmoid(x) is the binary cross-entropy of a
"real" target and softplus(x) that of a "fake" one, in the numerically stable form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fake_side(wrong: torch.Tensor, differs: torch.Tensor | None,
              *fakes: torch.Tensor) -> torch.Tensor:
    """The mean of a matching-aware D loss's "fake" terms, each given as per-element losses: the
    real images with mismatched captions (`wrong`, (K * B,) or (K * B, N)) and G's images.

    `differs` (K * B,) keeps only the mismatched pairs whose caption differs from the image's own
    (`objective.differing`): a real image with its own caption is no fake. When none does (one
    caption for the whole data set) G's images are the only fake term. Masked by weights, not by
    indexing, so that no step waits on the device to count them. With several processes each
    averages its own slice's pairs, as every term is averaged per process."""
    if differs is None:
        return (wrong.mean() + sum(fake.mean() for fake in fakes)) / (1 + len(fakes))
    weight = differs.to(wrong.dtype).view(-1, *[1] * (wrong.dim() - 1)).expand_as(wrong)
    counted = weight.sum()
    present = (counted > 0).to(wrong.dtype)  # 1, or 0 when no mismatched caption differs
    wrong_mean = (wrong * weight).sum() / counted.clamp(min=1)
    return (present * wrong_mean + sum(fake.mean() for fake in fakes)) / (present + len(fakes))


def matching_aware_d_loss(real_right: torch.Tensor, real_wrong: torch.Tensor,
                          fake_right: torch.Tensor,
                          differs: torch.Tensor | None = None) -> torch.Tensor:
    """GAN-CLS discriminator loss (Reed et al. 2016, Alg. 1).

    Real image with its own text is real; a real image with a mismatched text and a generated image
    with the right text are both fake, each weighted 1/2. The mismatched pair is what forces D to
    read the text, since a real-vs-fake D alone can ignore it. `differs`: see `fake_side`.
    """
    return F.softplus(-real_right).mean() + fake_side(F.softplus(real_wrong), differs,
                                                      F.softplus(fake_right))


def non_saturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)) (Goodfellow et al. 2014): strong gradients early, when D rejects every fake."""
    return F.softplus(-fake_logits).mean()


def matching_aware_d_loss_with_unconditional(real_right: torch.Tensor, real_any: torch.Tensor,
                                             real_wrong: torch.Tensor, fake_right: torch.Tensor,
                                             fake_any: torch.Tensor,
                                             differs: torch.Tensor | None = None) -> torch.Tensor:
    """StackGAN stage II's D loss: the matching-aware terms plus an unconditional real/fake logit
    ("any" text), weighted as in the official code: (2 real terms) / 2 + (3 fake terms) / 3."""
    real = F.softplus(-real_right).mean() + F.softplus(-real_any).mean()
    return real / 2 + fake_side(F.softplus(real_wrong), differs, F.softplus(fake_right),
                                F.softplus(fake_any))


def hinge_d_loss(real_right: torch.Tensor, real_wrong: torch.Tensor,
                 fake_right: torch.Tensor, differs: torch.Tensor | None = None) -> torch.Tensor:
    """DF-GAN's matching-aware hinge loss: real+right above +1; real+wrong and fake below -1, each
    1/2. `differs`: see `fake_side`."""
    return F.relu(1 - real_right).mean() + fake_side(F.relu(1 + real_wrong), differs,
                                                     F.relu(1 + fake_right))


def hinge_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


def matching_aware_gradient_penalty(logits: torch.Tensor, image: torch.Tensor, text: torch.Tensor,
                                    k: float = 2.0, p: float = 6.0) -> torch.Tensor:
    """MA-GP (Tao et al. 2022, eq. 3): k * E[(||grad_image D|| + ||grad_text D||)^p] at real,
    matching pairs.

    The gradient norm is over the image and the sentence vector together (one concatenated vector
    per sample, as in the official code). It smooths D around the real data *and* its true text,
    so G gets a useful gradient towards text-matching images. `logits` must come from
    D(image, text) with image and text requiring grad; the penalty keeps the graph for D's
    backward pass.
    """
    grad_image, grad_text = torch.autograd.grad(logits.sum(), (image, text), create_graph=True)
    # the norm in fp32 whatever the autocast: its 6th power overflows bf16/fp16 range quickly
    squared = (grad_image.float().flatten(1).square().sum(1)
               + grad_text.float().flatten(1).square().sum(1))  # (B,)
    return k * squared.sqrt().pow(p).mean()


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) of StackGAN's conditioning augmentation, averaged over
    elements.

    Closed form per element: -1/2 (1 + log sigma^2 - mu^2 - sigma^2). The official code takes the
    mean over batch and dimensions (not the sum over dimensions), which sets the scale of its
    weight.
    """
    mu, logvar = mu.float(), logvar.float()  # fp32 under autocast too
    return -0.5 * (1 + logvar - mu.square() - logvar.exp()).mean()


def auxiliary_class_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """AC-GAN's auxiliary classifier loss: cross-entropy of the image's class."""
    return F.cross_entropy(class_logits, labels)


def data_to_data_cross_entropy(embed: torch.Tensor, proxy: torch.Tensor, labels: torch.Tensor,
                               temperature: float = 0.5, margin: float = 0.98) -> torch.Tensor:
    """ReACGAN's D2D-CE (Kang et al. 2021, eq. 7) over one batch.

    embed: (B, d) image embeddings from D; proxy: (B, d) the embeddings of each sample's class.
    For sample i: -log( e^{s+} / (e^{s+} + sum_j e^{s_ij}) ), where
    s+ = min(cos(f_i, v_yi) - m_p, 0) / T pulls the image towards its class proxy until the cosine
    passes m_p, and the sum runs over the batch's samples of *other* classes only (same-class pairs
    are false negatives), each s_ij = max(cos(f_i, f_j) - (1 - m_p), 0) / T pushing different
    classes apart. The margins stop easy pairs from contributing, which is what keeps ACGAN's
    training from collapsing early.
    """
    # fp32 even under autocast (which would run the similarity matmul in bf16/fp16)
    embed, proxy = F.normalize(embed.float(), dim=1), F.normalize(proxy.float(), dim=1)
    # (B, 1)
    positive = (torch.clamp((embed * proxy).sum(1) - margin, max=0) / temperature)[:, None]
    with torch.autocast(embed.device.type, enabled=False):
        similarity = embed @ embed.T
    negatives = torch.clamp(similarity - (1 - margin), min=0) / temperature  # (B, B)
    other_class = labels[:, None] != labels[None, :]  # also excludes the diagonal
    negatives = negatives.masked_fill(~other_class, float("-inf"))
    return (torch.logsumexp(torch.cat([positive, negatives], dim=1), dim=1) - positive[:, 0]).mean()


def mode_seeking_loss(fake_a: torch.Tensor, fake_b: torch.Tensor, z_a: torch.Tensor,
                      z_b: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """MSGAN's term (Mao et al., CVPR 2019), minimised by G: 1 / (image distance / noise distance
    + eps).

    Two noise vectors with the same caption should give images as different as the noise is; a
    generator that ignores its noise (one image per caption) makes the ratio 0 and this term large.
    Distances are mean absolute differences, as in the paper's code.
    """
    ratio = (fake_a - fake_b).abs().mean() / (z_a - z_b).abs().mean()
    return 1.0 / (ratio + eps)
