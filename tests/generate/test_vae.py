import numpy as np
import pytest
from rdkit import Chem

from molmat.featurizers.tokens import tokenizer
from molmat.generate.optimize import canonical, latent_map, optimize_latent
from molmat.generate.vae import VAE, VAELoss
from molmat.training import archive
from tests.generate.conftest import SMILES


def test_selfies_samples_are_valid(vae):
    samples = vae.sample(64, seed=3)
    assert len(samples) == 64
    assert all(Chem.MolFromSmiles(s) is not None for s in samples)


def test_reconstructs_training_molecules(vae):
    decoded = canonical(vae.decode(vae.encode(SMILES), greedy=True))
    same = sum(d == s for d, s in zip(decoded, canonical(SMILES), strict=True))
    assert same >= 9, decoded


def test_kl_weight_anneals_to_beta(vae):
    loss = VAELoss(beta=0.5, anneal_epochs=2.0)
    assert float(loss.beta_at(0.0)) == 0.0
    assert float(loss.beta_at(1.0)) == pytest.approx(0.25)
    assert float(loss.beta_at(2.0)) == float(loss.beta_at(9.0)) == 0.5
    betas = [r["beta"] for r in vae.history_.records]
    assert betas[0] < betas[4] and betas[-1] == pytest.approx(vae.beta)


def test_encoder_ignores_padding(vae):
    """The same molecule alone and next to a longer one: the same mean."""
    ids = vae.vocab_.encode_one("CCO", tokenizer("selfies"))
    row = np.concatenate([[1], ids, [2]])
    alone = np.zeros((1, len(row)), np.int32)
    alone[0] = row
    padded = np.zeros((2, 3 * len(row)), np.int32)
    padded[0, : len(row)] = row
    padded[1] = np.r_[[1], np.resize(ids, padded.shape[1] - 2), [2]]
    lengths = (padded != 0).sum(1)
    mu_alone, _ = vae.net_.encode(alone, np.array([len(row)]))
    mu_batch, _ = vae.net_.encode(padded, lengths)
    np.testing.assert_allclose(mu_alone[0], mu_batch[0], atol=1e-5)


def test_save_load_gives_the_same_samples(vae, tmp_path):
    vae.save(tmp_path / "vae")
    loaded = VAE.from_archive(*archive.read_config(tmp_path / "vae"))
    assert loaded.sample(16, seed=5) == vae.sample(16, seed=5)
    z = vae.encode(SMILES[:3])
    np.testing.assert_allclose(loaded.predict_properties(z), vae.predict_properties(z))
    assert loaded.property_names_ == ("logP", "QED", "SA")


def test_interpolation_and_latent_map(vae, tmp_path):
    path = vae.interpolate("CCO", "c1ccccc1", steps=5)
    assert len(path) == 5
    values = np.arange(len(SMILES), dtype=float)
    png = latent_map(vae, SMILES, values, tmp_path / "map.png", label="index")
    assert png.stat().st_size > 0


def test_optimisation_improves_and_counts_calls(vae):
    """More carbons than any starting molecule (at most three carbons)."""
    small = ["CCO", "CCN", "CC(=O)O", "CCCl", "OCCO", "CC(C)O", "CC#N"]
    seen = []

    def carbons(smiles):
        seen.extend(smiles)
        return [
            sum(a.GetSymbol() == "C" for a in Chem.MolFromSmiles(s).GetAtoms())
            for s in smiles
        ]

    result = optimize_latent(
        vae,
        carbons,
        small,
        n_starts=6,
        steps=30,
        lr=0.5,
        decode_every=5,
        samples=3,
        seed=0,
        progress=False,
    )
    assert result.scores[0] > result.start_best
    assert result.objective_calls == len(seen) == len(set(seen))
    assert [t["objective_calls"] for t in result.trajectory] == sorted(
        t["objective_calls"] for t in result.trajectory
    )
