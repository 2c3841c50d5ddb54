"""DAMSM encoders (AttnGAN, Xu et al. 2018): a bi-LSTM over words and a CNN over image regions.

They are trained together (t2igan.training.damsm) so that a caption and its image land close in one
D-dimensional space, and serve as the evaluator for R-precision and a "domain FID" on the user's own
data. AttnGAN's image side is an ImageNet Inception v3; pretrained weights cannot be fetched here,
so ours is a small CNN trained from scratch, which at 64 px on a CPU also trains in minutes.

An encoder folder holds damsm.safetensors (both encoders' weights) and damsm.json (vocabulary,
architecture, recipe, results). The JSON is written last, so a folder without it is unfinished.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load as load_bytes
from torch import nn

from t2igan.errors import UserError
from t2igan.images import to_model

WEIGHTS, META = "damsm.safetensors", "damsm.json"
WORDS_NUM = 18  # AttnGAN's cfg.TEXT.WORDS_NUM: longer captions are cut to their first 18 words
PAD, UNK = 0, 1
# AttnGAN's smoothing factors (attention, word match, batch softmax)
GAMMA1, GAMMA2, GAMMA3 = 4.0, 5.0, 10.0
ARCHITECTURE = {"dim": 256, "embed": 300, "hidden": 128, "words_num": WORDS_NUM,
                "channels": [32, 64, 128, 256], "dropout": 0.5}
_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits, any alphabet


def tokenize(text: str) -> list[str]:
    """Lower-case words: 'A black-and-white cat!' -> ['a', 'black', 'and', 'white', 'cat']."""
    return _WORD.findall(text.lower())


class Vocabulary:
    """Word <-> index; 0 pads, 1 stands for any word not seen in the training captions."""

    def __init__(self, words: list[str]) -> None:
        self.words = ["<pad>", "<unk>", *words]
        self.index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def build(cls, captions: Iterable[str]) -> Vocabulary:
        """Every word seen at least once, sorted so the same captions always give the same
        indices."""
        return cls(sorted({word for caption in captions for word in tokenize(caption)}))

    def __len__(self) -> int:
        return len(self.words)

    def ids(self, caption: str) -> list[int]:
        """At most WORDS_NUM indices; an empty caption becomes one unknown word so the LSTM has a
        step."""
        return [self.index.get(word, UNK) for word in tokenize(caption)][:WORDS_NUM] or [UNK]

    def encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> tokens (N, T) long, padded with 0, T = longest caption; lengths (N,) long."""
        rows = [self.ids(caption) for caption in captions]
        tokens = torch.zeros(len(rows), max(map(len, rows), default=1), dtype=torch.long)
        for i, row in enumerate(rows):
            tokens[i, :len(row)] = torch.tensor(row)
        return tokens, torch.tensor([len(row) for row in rows])


class TextEncoder(nn.Module):
    """AttnGAN's RNN_ENCODER: embedding -> bidirectional LSTM; word features and a sentence
    feature."""

    def __init__(self, vocab_size: int, embed: int = 300, hidden: int = 128,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed, padding_idx=PAD)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)  # AttnGAN's init

    def forward(self, tokens: torch.Tensor,
                lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tokens (B, T), lengths (B,) -> words (B, 2*hidden, T), sentence (B, 2*hidden)."""
        x = self.drop(self.embedding(tokens))  # (B, T, 300)
        # Packing makes each caption's final states those of its last real word, not of padding.
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        out, (h, _) = self.lstm(packed)
        words, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                    total_length=tokens.shape[1])
        # (B, 256): forward and backward final states
        sentence = h.transpose(0, 1).reshape(len(tokens), -1)
        return words.transpose(1, 2), sentence  # (B, 256, T), (B, 256)


class ImageEncoder(nn.Module):
    """Four stride-2 conv blocks (32, 64, 128, 256 channels); regions from the third, the global
    code from the fourth. Small on purpose: it trains from scratch on a CPU, where twice these
    widths made a step three times as slow (64x64, batch 48: about 0.3 s of conv forward and
    backward on one core).

    Like AttnGAN's Inception (regions from Mixed_6e, the global code after the last block), local
    features come from a finer grid than the global one: at 64x64 the third block gives an 8x8 grid
    of regions (a cat's head, a wheel, a patch of rug are about one cell), and the fourth a 4x4 map
    whose flattened features keep where things are ("facing left") for the global code.
    """

    def __init__(self, image_size: tuple[int, int], dim: int = 256,
                 channels: list[int] | None = None) -> None:
        super().__init__()
        channels = list(channels or ARCHITECTURE["channels"])
        blocks, previous = [], 3
        for width in channels:
            blocks.append(nn.Sequential(nn.Conv2d(previous, width, 4, 2, 1, bias=False),
                                        nn.BatchNorm2d(width), nn.LeakyReLU(0.2, inplace=True)))
            previous = width
        self.blocks = nn.ModuleList(blocks)
        # AttnGAN's emb_features: 1x1 conv to the shared space
        self.regions = nn.Conv2d(channels[-2], dim, 1)
        width, height = image_size
        # the fourth block's grid; sizes >= 16 keep it >= 1x1
        cells = (height // 16) * (width // 16)
        self.code = nn.Linear(channels[-1] * cells, dim)  # AttnGAN's emb_cnn_code
        for layer in (self.regions, self.code):  # AttnGAN inits both at uniform(-0.1, 0.1)
            nn.init.uniform_(layer.weight, -0.1, 0.1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """float (B, 3, H, W) in [-1, 1] -> regions (B, dim, H/8, W/8), global code (B, dim)."""
        x = images
        for block in self.blocks[:-1]:
            x = block(x)  # (B, 128, H/8, W/8) after the third
        regions = self.regions(x)
        return regions, self.code(self.blocks[-1](x).flatten(1))


def _cross_entropy_both_ways(scores: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """scores (B, B): [i, j] = image i vs caption j, diagonal matching. Image->caption plus
    caption->image.

    With class labels, other pairs of the same class are not negatives (AttnGAN masks them out).
    """
    if labels is not None:
        same = labels[:, None] == labels[None, :]
        same.fill_diagonal_(False)
        scores = scores.masked_fill(same, float("-inf"))
    target = torch.arange(len(scores), device=scores.device)
    return F.cross_entropy(scores, target) + F.cross_entropy(scores.t(), target)


def sentence_loss(image_codes: torch.Tensor, sentences: torch.Tensor,
                  labels: torch.Tensor | None = None, gamma3: float = GAMMA3) -> torch.Tensor:
    """DAMSM's sentence loss: image codes (B, D) and their captions' sentence codes (B, D)."""
    cosine = F.normalize(image_codes, dim=1) @ F.normalize(sentences, dim=1).t()  # (B, B)
    return _cross_entropy_both_ways(gamma3 * cosine, labels)


def word_loss(regions: torch.Tensor, words: torch.Tensor, lengths: torch.Tensor,
              labels: torch.Tensor | None = None, gamma1: float = GAMMA1, gamma2: float = GAMMA2,
              gamma3: float = GAMMA3) -> torch.Tensor:
    """DAMSM's word loss: regions (B, D, h, w), words (B, D, T) with lengths (B,); every caption
    vs every image."""
    (b, d, t), regions = words.shape, regions.flatten(2)  # regions (B, D, R)
    r = regions.shape[2]
    valid = torch.arange(t, device=words.device)[None] < lengths.to(words.device)[:, None]  # (B, T)
    # Indices: i caption, j image, t word, r region. Every word . every region in one matrix
    # product.
    dots = (words.transpose(1, 2).reshape(b * t, d) @ regions.transpose(0, 1).reshape(d, b * r))
    dots = dots.view(b, t, b, r).transpose(1, 2)  # (B, B, T, R)
    # AttnGAN attends with raw dot products, first normalised over the words of a caption (per
    # region), then sharpened by gamma1 and normalised over regions.
    attn = dots.masked_fill(~valid[:, None, :, None], float("-inf")).softmax(dim=2)
    attn = (gamma1 * attn).softmax(dim=3)  # (B, B, T, R)
    # cos(c_t, e_t) for the region context c_t = sum_r attn_r v_r, without building c (B, B, T, D):
    # c.e = sum_r attn_r (v_r.e) reuses `dots`, |c|^2 = attn' G attn with the regions' Gram
    # matrix G.
    ce = (attn * dots).sum(3)  # (B, B, T)
    gram = regions.transpose(1, 2) @ regions  # (B images, R, R)
    per_image = attn.transpose(0, 1).reshape(b, b * t, r)  # (j, i*T, R)
    cc = ((per_image @ gram) * per_image).sum(2).view(b, b, t).transpose(0, 1)  # (B, B, T)
    ee = words.pow(2).sum(1)  # (B, T)
    cosine = ce / (cc.clamp_min(1e-16).sqrt() * ee.clamp_min(1e-16).sqrt()[:, None])
    cosine = cosine.masked_fill(~valid[:, None], float("-inf"))
    # R(Q, D) = log(sum_t exp(gamma2 cos))^(1/gamma2), as in the paper (its code leaves out the
    # 1/gamma2).
    match = torch.logsumexp(gamma2 * cosine, dim=2) / gamma2  # (B captions, B images)
    return _cross_entropy_both_ways(gamma3 * match.t(), labels)


def _resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float (N, 3, h, w) in [-1, 1]; size is (width, height)."""
    x = to_model(images)
    (width, height), (h, w) = size, images.shape[2:]
    if (h, w) == (height, width):
        return x
    # area averages when shrinking: no aliasing
    mode = "area" if h >= height and w >= width else "bilinear"
    return F.interpolate(x, size=(height, width), mode=mode,
                         **({"align_corners": False} if mode == "bilinear" else {}))


class DAMSM:
    """A frozen encoder pair in eval mode: global image codes and sentence codes in one space."""

    def __init__(self, text: TextEncoder, image: ImageEncoder, vocab: Vocabulary,
                 image_size: tuple[int, int], sha256: str) -> None:
        self.text, self.image, self.vocab = (text.eval().requires_grad_(False),
                                             image.eval().requires_grad_(False), vocab)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.dim = self.image.code.out_features
        self.identity = {"kind": "damsm", "sha256": sha256, "dim": self.dim,
                         "image_size": list(self.image_size)}

    @torch.inference_mode()
    def encode_images(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """uint8 (N, 3, H, W), any size (resized, not cropped) -> (N, D) float32 global image
        codes."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected uint8 images (N, 3, H, W), got {images.dtype} "
                             f"{tuple(images.shape)}")
        codes = [self.image(_resize(images[i:i + batch], self.image_size))[1]
                 for i in range(0, len(images), batch)]
        return torch.cat(codes) if codes else torch.zeros(0, self.dim)

    @torch.inference_mode()
    def encode_texts(self, captions: list[str], batch: int = 256) -> torch.Tensor:
        """(N,) captions -> (N, D) float32 sentence codes."""
        codes = [self.text(*self.vocab.encode(captions[i:i + batch]))[1]
                 for i in range(0, len(captions), batch)]
        return torch.cat(codes) if codes else torch.zeros(0, self.dim)


def weights_bytes(text: TextEncoder, image: ImageEncoder) -> bytes:
    """Both encoders' weights as safetensors bytes: the file, and what its sha256 identifies."""
    from safetensors.torch import save

    state = {f"text.{k}": v for k, v in text.state_dict().items()}
    state.update({f"image.{k}": v for k, v in image.state_dict().items()})
    return save({k: v.detach().cpu().contiguous() for k, v in state.items()})


def build_encoders(vocab_size: int, image_size: tuple[int, int],
                   arch: dict) -> tuple[TextEncoder, ImageEncoder]:
    if arch["hidden"] * 2 != arch["dim"]:
        raise ValueError("the sentence code (2 x hidden, both directions) must have the image "
                         "code's size (dim)")
    return (TextEncoder(vocab_size, arch["embed"], arch["hidden"], arch["dropout"]),
            ImageEncoder(image_size, arch["dim"], arch["channels"]))


def load_damsm(path: str | Path) -> DAMSM:
    """Read an encoder folder written by `t2igan text pretrain`."""
    path = Path(path)
    how = f"train one with `t2igan text pretrain --data DATA --out {path}`"
    if not path.is_dir():
        raise UserError(f"no DAMSM encoder folder at {path}; {how}")
    if not (path / META).is_file():
        raise UserError(f"{path} has no {META}: not a finished DAMSM encoder; {how}")
    try:
        meta = json.loads((path / META).read_text(encoding="utf-8"))
        data = (path / WEIGHTS).read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        if meta.get("weights_sha256", sha256) != sha256:
            raise ValueError(f"{WEIGHTS} is not the one {META} was written with")
        state = load_bytes(data)
        arch, size = meta["architecture"], tuple(meta["image_size"])
        text, image = build_encoders(len(meta["vocab"]) + 2, size, arch)
        text.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("text.")})
        image.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("image.")})
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:
        raise UserError(f"{path} is not a usable DAMSM encoder "
                        f"({str(error).splitlines()[0]}); {how}") from None
    return DAMSM(text, image, Vocabulary(meta["vocab"]), size, sha256)
