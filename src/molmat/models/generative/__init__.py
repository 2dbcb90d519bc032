"""Generative networks: language models, the SELFIES VAE, ChemNet (for FCD)."""
