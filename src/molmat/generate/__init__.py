"""Molecule generation: language models, a SELFIES VAE, MOSES metrics."""
