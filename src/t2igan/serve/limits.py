"""What one request to `t2igan serve` may ask for, each limit a flag of the command."""

from __future__ import annotations

from dataclasses import dataclass

from t2igan.settings import at_least, check, setting


@dataclass
class Limits:
    max_prompt_chars: int = setting(500, "longest prompt accepted, in characters (the sentence "
                                    "encoder reads about 1,000 at most)", check=at_least(1))
    max_images: int = setting(16, "most images one request may ask for", check=at_least(1))
    max_steps: int = setting(16, "most images along one interpolation", check=at_least(2))
    max_concurrent: int = setting(4, "requests served or waiting at once; more are refused with "
                                  "503 (the model makes one request's images at a time)",
                                  check=at_least(1))

    def __post_init__(self) -> None:
        check(self)
