"""Datasets of captioned images."""
