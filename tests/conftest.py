import os

import pytest

# Tiny GAN-INT-CLS settings: a training step takes milliseconds on a CPU.
TINY = ["--model", "gan-int-cls", "--image-size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16",
        "--text-code", "16", "--batch-size", "4", "--num-images", "24", "--log-every", "1",
        "--sample-every", "2", "--checkpoint-every", "2"]


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session gets its own cache of embeddings and evaluators, and stays offline."""
    os.environ["T2IGAN_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["HF_HUB_OFFLINE"] = "1"
