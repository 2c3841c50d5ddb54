"""CLIP score of generated images against their captions, with a CLIP model from a local folder.

The definition of text-to-image papers and torchmetrics: 100 * max(cos(image embedding, text
embedding), 0) per image, averaged. The model is never downloaded: the user gives a folder as saved
by `CLIPModel.save_pretrained` plus `CLIPProcessor.save_pretrained` (config.json, the weights, the
tokenizer and preprocessor files), and every load is local_files_only. The folder's path and the
sha256 of its weights go into `identity`, so a reported score says which CLIP made it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from tqdm import tqdm

from t2igan.errors import UserError
from t2igan.pretrained import file_sha256

if TYPE_CHECKING:  # transformers takes seconds to import: only load_clip imports it at run time
    from transformers import CLIPModel, CLIPProcessor

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
HINT = "a folder with config.json and the weights, as saved by CLIPModel.save_pretrained"


def _first_line(error: Exception) -> str:
    """The first line of an exception's message (transformers' are often long), for a one-line
    UserError."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _features(output: object) -> torch.Tensor:
    """(B, D) embeddings from get_*_features: a tensor in transformers 4, an output object in 5."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class ClipScorer:
    """A loaded CLIP model that scores uint8 images against captions; make one with `load_clip`."""

    def __init__(self, model: CLIPModel, processor: CLIPProcessor, identity: dict,
                 device: torch.device) -> None:
        self.model, self.processor, self.identity, self.device = model, processor, identity, device
        # Captions longer than the text encoder's positions are cut, as torchmetrics does (77 for
        # CLIP).
        self.max_length: int = model.config.text_config.max_position_embeddings

    @torch.no_grad()
    def _scores(self, images: torch.Tensor, captions: list[str]) -> torch.Tensor:
        """uint8 (B, 3, H, W) and B captions -> (B,) float32 CLIP scores in [0, 100]."""
        # The processor resizes, crops and normalises as the CLIP was trained: (B, 3, S, S) float.
        pixels = self.processor.image_processor(images=list(images.cpu()),
                                                return_tensors="pt")["pixel_values"]
        text = self.processor.tokenizer(captions, padding=True, truncation=True,
                                        max_length=self.max_length, return_tensors="pt")
        # (B, D)
        image_emb = _features(self.model.get_image_features(pixel_values=pixels.to(self.device)))
        text_emb = _features(self.model.get_text_features(
            input_ids=text["input_ids"].to(self.device),
            attention_mask=text["attention_mask"].to(self.device)))
        cosine = F.cosine_similarity(image_emb.float(), text_emb.float(), dim=-1)  # (B,)
        return 100 * cosine.clamp_min(0).cpu()

    def score(self, images: torch.Tensor, captions: list[str], batch: int = 64,
              progress: bool = False) -> dict:
        """uint8 (N, 3, H, W) images, caption i for image i -> {"mean", "std" (population),
        "count"}."""
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"CLIP score expects uint8 (N, 3, H, W) images, got {images.dtype} "
                             f"{tuple(images.shape)}")
        if len(captions) != len(images) or not captions:
            raise ValueError(f"CLIP score needs one caption per image, got {len(captions)} for "
                             f"{len(images)}")
        bar = tqdm(total=len(images), desc="CLIP score", unit="img", disable=not progress)
        scores = []
        for i in range(0, len(images), batch):
            scores.append(self._scores(images[i:i + batch], list(captions[i:i + batch])))
            bar.update(len(scores[-1]))
        bar.close()
        values = torch.cat(scores).double()  # (N,)
        return {"mean": values.mean().item(), "std": values.std(correction=0).item(),
                "count": len(values)}


def _check_folder(folder: Path, flag: str) -> list[Path]:
    """Raise UserError unless the folder holds a CLIP config and weights; return the weight
    files."""
    config = folder / "config.json"
    weights = sorted(p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern))
    if not folder.is_dir() or not config.is_file() or not weights:
        raise UserError(f"{flag} {folder}: no CLIP model there ({HINT})")
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as e:
        raise UserError(f"{flag} {folder}: config.json is unreadable ({e})") from None
    if model_type != "clip":
        raise UserError(f"{flag} {folder}: config.json describes a {model_type!r} model, not "
                        f"CLIP ({HINT})")
    return weights


def load_clip(path: str | Path, device: str | torch.device = "cpu",
              flag: str = "--clip-model") -> ClipScorer:
    """Load a CLIP model, tokenizer and image processor from a local folder; never downloads.

    `flag` names the option the folder came from in error messages (UserError, one line).
    """
    from transformers import CLIPModel, CLIPProcessor  # the run-time import of the hints above

    folder = Path(path).expanduser().resolve()
    weights = _check_folder(folder, flag)
    try:
        model = CLIPModel.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as e:
        raise UserError(f"{flag} {folder}: the CLIP model does not load "
                        f"({_first_line(e)})") from None
    try:
        processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, TypeError) as e:
        raise UserError(f"{flag} {folder}: no CLIP tokenizer or image processor there (save "
                        "CLIPProcessor.save_pretrained into the same folder; "
                        f"{_first_line(e)})") from None
    identity = {"path": str(folder), "weights_sha256": {p.name: file_sha256(p) for p in weights}}
    device = torch.device(device)
    return ClipScorer(model.eval().to(device), processor, identity, device)
