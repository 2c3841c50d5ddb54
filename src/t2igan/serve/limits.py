"""What `t2igan serve` listens on and what one request may ask for, each a flag of the command."""

from __future__ import annotations

from dataclasses import dataclass

from t2igan.api import MAX_IMAGES, MAX_STEPS
from t2igan.prompts import MAX_PROMPT_CHARS
from t2igan.settings import between, check, setting


@dataclass
class Address:
    host: str = setting("127.0.0.1", "address to listen on: 127.0.0.1 is this machine only, "
                        "0.0.0.0 opens it to the network")
    port: int = setting(8000, "port; 0: any free one", check=between(0, 65_535))

    def __post_init__(self) -> None:
        check(self)


@dataclass
class Limits:
    # at most what the Python API takes in one call; a page's user needs far less
    max_prompt_chars: int = setting(500, "longest prompt accepted, in characters (the sentence "
                                    "encoder reads about 1,000 at most)",
                                    check=between(1, MAX_PROMPT_CHARS))
    max_images: int = setting(16, "most images one request may ask for",
                              check=between(1, MAX_IMAGES))
    max_steps: int = setting(16, "most images along one interpolation",
                             check=between(2, MAX_STEPS))
    max_concurrent: int = setting(4, "requests served or waiting at once; more are refused with "
                                  "503 (the model makes one request's images at a time)",
                                  check=between(1, 1024))

    def __post_init__(self) -> None:
        check(self)
