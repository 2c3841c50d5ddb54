"""Training: the loop, checkpoints and run folders."""
