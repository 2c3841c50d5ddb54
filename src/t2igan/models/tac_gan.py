"""TAC-GAN (Dash et al., "TAC-GAN: Text Conditioned Auxiliary Classifier GAN", 2017), and
ReACGAN's data-to-data cross-entropy (Kang et al., NeurIPS 2021) as its alternative class loss.

TAC-GAN is GAN-INT-CLS's text-conditioned DCGAN with an auxiliary classifier on D (AC-GAN,
Odena et al. 2017): D also predicts the image's class, on real images and on fakes (labelled with
the class of the text they were drawn from), and G is rewarded when its fakes are classified as
that class. With `--aux-loss d2d-ce` the classifier becomes ReACGAN's: D embeds the image, and
the D2D-CE loss pulls the embedding towards a learned proxy of its class and away from images of
other classes in the batch, with margins that ignore easy pairs.

One deliberate change from the official TAC-GAN code: its class head sits after the sentence is
concatenated, so it can read the class from the text and ignore the image; here it reads the
image features only, which is what "the image's class" asks for.
"""

from __future__ import annotations

import torch
from torch import nn

from t2igan import losses
from t2igan.models import base, gan_int_cls, objective
from t2igan.models.objective import Batch, Generated, judge_matching, stats
from t2igan.models.objective import Objective as SharedGeneration

SIZES = gan_int_cls.SIZES
EMBED_DIM = 512  # ReACGAN's class embedding


class Discriminator(gan_int_cls.Discriminator):
    """GAN-INT-CLS's D plus a class head on the image features: logits (ac) or an embedding and the
    labels' proxies (d2d-ce), in the Judgement when labels are given."""

    def __init__(self, text_dim: int, image_size: int, ndf: int, text_code: int, num_classes: int,
                 aux_loss: str = "ac") -> None:
        super().__init__(text_dim, image_size, ndf, text_code)
        flat = self.head[-1].in_channels * 16  # (8ndf, 4, 4) features, flattened
        if aux_loss == "ac":
            self.classify = nn.Linear(flat, num_classes)
        else:
            self.classify = nn.Linear(flat, EMBED_DIM)
            self.proxies = nn.Embedding(num_classes, EMBED_DIM)
        self.aux_loss = aux_loss

    def forward(self, images: torch.Tensor, text: torch.Tensor,
                mismatched: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> base.Judgement:
        features = self.image_tower(images)
        seen = self.head.see(features)
        judged = base.Judgement(self.judge(seen, text),
                                base.judge_others(self.judge, seen, mismatched))
        if labels is not None:
            # (B, C) logits or (B, E) embedding
            judged.classes = self.classify(features.flatten(1))
            judged.proxies = self.proxies(labels) if self.aux_loss == "d2d-ce" else None
        return judged


def build(text_dim: int, cfg, num_classes: int = 0) -> tuple[nn.Module, nn.Module]:
    side = cfg.size[0]
    G = gan_int_cls.Generator(text_dim, side, cfg.nz, cfg.ngf, cfg.text_code)
    return G, Discriminator(text_dim, side, cfg.ndf, cfg.text_code, max(num_classes, 1),
                            cfg.aux_loss)


class Objective(SharedGeneration):
    """Matching-aware BCE GAN loss plus the class loss, added unweighted as TAC-GAN does: on real
    and fake images for D (AC-GAN), on real images only for D2D-CE (ReACGAN), and on fakes for G."""

    def discriminator_loss(self, D: nn.Module, batch: Batch,
                           generated: Generated) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        real, fake = judge_matching(D, batch.real, generated.images.detach(), batch.text,
                                    batch.mismatched, batch.labels)
        adversarial = losses.matching_aware_d_loss(real.logits, real.mismatched, fake.logits,
                                                   batch.differs)
        classes = objective.d_class_loss(real, fake, batch.labels)
        return adversarial + classes, stats(d_real=real.logits, d_wrong=real.mismatched,
                                            d_fake=fake.logits, d_class=classes)

    def generator_loss(self, G: nn.Module, D: nn.Module, batch: Batch, generated: Generated,
                       noise: base.Noise) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        fake = D(generated.images, batch.text, labels=batch.labels)
        adversarial = losses.non_saturating_g_loss(fake.logits)
        classes = objective.class_loss(fake, batch.labels)
        return adversarial + classes, stats(g_adversarial=adversarial, g_class=classes)
