"""Text encoders: turn captions into fixed-size sentence vectors."""

from t2igan.text.encoder import TextEncoder, embed_texts, load_text_encoder

__all__ = ["TextEncoder", "embed_texts", "load_text_encoder"]
