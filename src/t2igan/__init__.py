"""t2igan: text-to-image GANs that train on captioned images and generate from free text, offline.

The Python API is `t2igan.load(run)` (t2igan.api): a trained model that makes PIL images or uint8
arrays from prompts, interpolates, and embeds text.

Layers, each importing only from those below it (tests/test_layers.py holds the code to this):

    cli, demo, serve/              the commands; the local web page and its JSON API
    training/                      the loops: GAN training, evaluation during training,
                                   DAMSM pretraining
    evaluate                       `t2igan evaluate`: generate from the real split's captions,
                                   score, report
    api                            the Python API: load(run) -> TextToImage
    sampling                       load a run's generator, turn text into images, interpolate
    models/, metrics/              the zoo (contract in models/base.py); the field's metrics
    runs                           run folders: config.json, checkpoints, which weights sample
    config                         the settings of a run, each described once
    data/, text/                   captioned datasets in every format; sentence encoders
    augment, losses, images,       DiffAugment; pure loss functions; image conventions and grids;
    prompts                        prompts cleaned and read from files
    settings, runtime, interrupts, files, pretrained, errors     the foundations
"""

__version__ = "0.1.0"


def __getattr__(name: str):  # `t2igan.load` without importing torch for `import t2igan` alone
    if name in ("load", "TextToImage"):
        from t2igan import api

        return getattr(api, name)
    raise AttributeError(f"module 't2igan' has no attribute {name!r}")
