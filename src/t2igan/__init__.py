"""t2igan: text-to-image GANs that train on captioned images and generate from free text, offline.

Layers, each importing only from those below it (tests/test_layers.py holds the code to this):

    cli, demo                      the commands
    training/                      the loops: GAN training, evaluation during training,
                                   DAMSM pretraining
    evaluate                       `t2igan evaluate`: generate from the real split's captions,
                                   score, report
    sampling                       load a run's generator, turn text into images
    models/, metrics/              the zoo (contract in models/base.py); the field's metrics
    runs                           run folders: config.json, checkpoints, which weights sample
    config                         the settings of a run, each described once
    data/, text/                   captioned datasets in every format; sentence encoders
    augment, losses, images        DiffAugment; pure loss functions; image conventions and grids
    settings, runtime, interrupts, files, pretrained, errors     the foundations
"""

__version__ = "0.1.0"
