"""Training: the GAN loop (loop.py), the moving average of G (ema.py), evaluation during training
(evaluation.py) and DAMSM encoder pretraining (damsm.py)."""
