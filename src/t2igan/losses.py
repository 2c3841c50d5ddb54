"""Loss functions: pure functions of logits and tensors, no models inside.

Logits are raw D outputs; softplus(-x) = -log sigmoid(x) is the binary cross-entropy of a
"real" target and softplus(x) that of a "fake" one, in the numerically stable form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def matching_aware_d_loss(real_right: torch.Tensor, real_wrong: torch.Tensor, fake_right: torch.Tensor) -> torch.Tensor:
    """GAN-CLS discriminator loss (Reed et al. 2016, Alg. 1).

    Real image with its own text is real; a real image with a mismatched text and a generated image
    with the right text are both fake, each weighted 1/2. The mismatched pair is what forces D to
    read the text, since a real-vs-fake D alone can ignore it.
    """
    return F.softplus(-real_right).mean() + 0.5 * (F.softplus(real_wrong).mean() + F.softplus(fake_right).mean())


def non_saturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)) (Goodfellow et al. 2014): strong gradients early, when D rejects every fake."""
    return F.softplus(-fake_logits).mean()
