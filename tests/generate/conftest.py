"""Shared fixtures of the generation tests."""

import pytest

from molmat.generate.vae import VAE

# short molecules: every SELFIES row fits one length bucket (one compilation)
SMILES = [
    "CCO",
    "CCN",
    "CCCC",
    "c1ccccc1",
    "CC(=O)O",
    "CCOC",
    "C1CCCCC1",
    "CCCl",
    "OCCO",
    "CC(C)O",
    "c1ccncc1",
    "CC#N",
]


@pytest.fixture(scope="session")
def vae():
    """A tiny VAE overfitted on 12 molecules (shared, read-only)."""
    model = VAE(
        embed=16,
        hidden=64,
        encoder_hidden=32,
        latent=8,
        head_hidden=16,
        beta=0.01,
        kl_anneal_epochs=5,
        epochs=10,
        epoch_size=320,
        batch_size=16,
        lr=1e-2,
        patience=None,
        progress=False,
    )
    return model.fit(SMILES, val_size=0)
