"""Crystal generation: the periodic denoiser's symmetries, the noise
processes, sampling, archives, structure files, CDVAE's metrics and the CLI.

``tests/data/perov_5_sample.csv.gz``: 120 perovskites drawn (seed 0) from
CDVAE's Perov-5 validation split (txie-93/cdvae, MIT).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import ase.io
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from ase import Atoms

from molmat.cli.main import main
from molmat.models.generative.crystal import CrystalDenoiser, pad_crystals
from molmat.models.generative.crystal_noise import (
    CrystalBatch,
    Diffusion,
    FlowMatching,
    wrapped_normal_score,
)
from molmat.tasks.archives import load
from molmat.tasks.crystal_generator import (
    CrystalGenerator,
    composition_numbers,
    fractional,
    read_crystals,
)
from molmat.tasks.crystal_generator_runs import frame_atoms, write_structures

DATA = Path(__file__).parents[1] / "data" / "perov_5_sample.csv.gz"
TINY = dict(hidden=16, layers=1, frequencies=4, sampling_steps=8, progress=False)


@pytest.fixture(scope="module")
def frames():
    found, _ = read_crystals(DATA)
    return found


@pytest.fixture(scope="module")
def fitted(frames):
    return CrystalGenerator("diffusion", epochs=3, batch_size=32, **TINY).fit(frames)


def _random_crystals(key, b=3, atoms=6, types=4):
    kl, kf, kt = jax.random.split(key, 3)
    lattice = jax.random.normal(kl, (b, 3, 3)) + 3 * jnp.eye(3)
    frac = jax.random.uniform(kf, (b, atoms, 3))
    t = jax.nn.one_hot(jax.random.randint(kt, (b, atoms), 0, types), types) * 2 - 1
    mask = jnp.arange(atoms)[None] < jnp.array([[6], [4], [5]])
    return lattice, frac, t * mask[..., None], mask


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


@eqx.filter_jit
def _jit_net(net, *args):
    return net(*args)


class TestDenoiser:
    net = CrystalDenoiser(4, hidden=16, layers=2, frequencies=4, key=jax.random.key(0))
    known = jnp.array([True, False, False])
    t = jnp.array([0.1, 0.5, 0.9])

    def outputs(self, lattice, frac, types, mask):
        return _jit_net(self.net, lattice, frac, types, self.known, self.t, mask)

    def test_rotating_the_lattice_rotates_only_the_lattice_output(self):
        lattice, frac, types, mask = _random_crystals(jax.random.key(1))
        q = jnp.asarray(_rotation(0), jnp.float32)
        out = self.outputs(lattice, frac, types, mask)
        turned = self.outputs(lattice @ q, frac, types, mask)
        np.testing.assert_allclose(turned.lattice, out.lattice @ q, atol=1e-4)
        np.testing.assert_allclose(turned.frac, out.frac, atol=1e-5)
        np.testing.assert_allclose(turned.types, out.types, atol=1e-5)

    def test_translating_all_atoms_periodically_changes_nothing(self):
        lattice, frac, types, mask = _random_crystals(jax.random.key(2))
        out = self.outputs(lattice, frac, types, mask)
        shifted = self.outputs(lattice, jnp.mod(frac + 0.73, 1.0), types, mask)
        for a, b in zip(out, shifted, strict=True):
            np.testing.assert_allclose(a, b, atol=2e-4)

    def test_permuting_atoms_permutes_the_outputs(self):
        lattice, frac, types, mask = _random_crystals(jax.random.key(3))
        perm = jnp.array([3, 0, 5, 1, 4, 2])  # crystal 0 has all 6 atoms
        out = self.outputs(lattice, frac, types, mask)
        moved = self.outputs(
            lattice, frac[:, perm], types[:, perm], mask.at[0].set(True)
        )
        np.testing.assert_allclose(moved.frac[0], out.frac[0][perm], atol=1e-5)
        np.testing.assert_allclose(moved.lattice[0], out.lattice[0], atol=1e-4)

    def test_a_crystal_alone_or_padded_in_a_batch_gives_the_same_outputs(self):
        lattice, frac, types, mask = _random_crystals(jax.random.key(4))
        out = self.outputs(lattice, frac, types, mask)
        alone = self.net(
            lattice[1:2],
            frac[1:2, :4],
            types[1:2, :4],
            self.known[1:2],
            self.t[1:2],
            mask[1:2, :4],
        )
        np.testing.assert_allclose(alone.frac[0], out.frac[1, :4], atol=1e-5)
        np.testing.assert_allclose(alone.lattice[0], out.lattice[1], atol=1e-5)
        assert not np.asarray(out.frac[1, 4:]).any()  # padded atoms say nothing


def test_the_wrapped_normal_score_is_the_gradient_of_its_log_density():
    def log_density(d, sigma):
        k = jnp.arange(-10, 11)
        return jax.scipy.special.logsumexp(-((d + k) ** 2) / (2 * sigma**2))

    for d, sigma in [(0.3, 0.1), (0.45, 0.5), (-0.2, 0.3), (0.01, 0.005)]:
        expected = jax.grad(log_density)(jnp.float32(d), jnp.float32(sigma))
        got = wrapped_normal_score(jnp.float32(d), jnp.float32(sigma))
        np.testing.assert_allclose(got, expected, rtol=1e-4)


@pytest.mark.parametrize("process", [Diffusion(steps=50), FlowMatching(steps=10)])
def test_a_small_denoiser_learns_a_small_set_of_crystals(frames, process):
    import optax

    chosen = frames[:16]
    elements = sorted({int(z) for f in chosen for z in f.numbers})
    index = {z: i for i, z in enumerate(elements)}
    lattice, frac, idx, mask = pad_crystals(
        [f.cell / 4.0 for f in chosen],
        [fractional(f) for f in chosen],
        [np.asarray([index[int(z)] for z in f.numbers]) for f in chosen],
        5,
    )
    types = (np.eye(len(elements))[idx] * 2 - 1) * mask[..., None]
    batch = CrystalBatch(
        *(jnp.asarray(a) for a in (lattice, frac, types, mask)),
        jnp.zeros(16, bool),
        jnp.ones(16),
    )
    net = CrystalDenoiser(len(elements), 32, 2, 4, key=jax.random.key(0))
    opt = optax.adam(5e-3)
    state = opt.init(eqx.filter(net, eqx.is_array))

    loss_and_grad = eqx.filter_jit(
        eqx.filter_value_and_grad(lambda n, k: process.loss(n, batch, k)[0])
    )

    def held_out(net):
        keys = jax.random.split(jax.random.key(99), 16)
        return float(np.mean([loss_and_grad(net, k)[0] for k in keys]))

    before = held_out(net)
    for i in range(150):
        _, grads = loss_and_grad(net, jax.random.key(i))
        updates, state = opt.update(grads, state)
        net = eqx.apply_updates(net, updates)
    assert held_out(net) < 0.6 * before


class TestGenerator:
    def test_generated_crystals_are_periodic_with_finite_cells(self, fitted):
        found = fitted.generate(7, seed=1)
        assert len(found) == 7
        sizes = set(fitted.atom_counts_)
        for atoms in found:
            assert atoms.pbc.all() and len(atoms) in sizes
            assert np.isfinite(atoms.cell[:]).all()
            assert set(atoms.numbers) <= set(fitted.elements_)

    def test_sampling_is_reproducible_with_a_seed(self, fitted):
        a = fitted.generate(3, seed=5)
        b = fitted.generate(3, seed=5)
        c = fitted.generate(3, seed=6)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(
                x.get_scaled_positions(), y.get_scaled_positions()
            )
        assert not np.allclose(a[0].cell[:], c[0].cell[:])

    def test_structure_prediction_keeps_the_given_atoms(self, fitted, frames):
        want = [
            list(frames[0].numbers),
            "".join(ase.Atoms(numbers=frames[1].numbers).get_chemical_formula()),
        ]
        found = fitted.predict_structures(want, seed=0)
        assert sorted(found[0].numbers) == sorted(frames[0].numbers)
        assert sorted(found[1].numbers) == sorted(frames[1].numbers)

    def test_unknown_elements_and_formulas_are_refused_clearly(self, fitted):
        with pytest.raises(ValueError, match="never seen in training"):
            fitted.predict_structures(["UuoTiO3".replace("Uuo", "Og")])
        with pytest.raises(ValueError, match="not a chemical formula"):
            composition_numbers("Sr(Ti")

    def test_a_de_novo_model_refuses_structure_prediction(self):
        gen = CrystalGenerator(task="denovo", **TINY)
        with pytest.raises(ValueError, match="de novo generation only"):
            gen.predict_structures(["SrTiO3"])

    def test_save_and_load_give_identical_samples(self, fitted, tmp_path):
        fitted.save(tmp_path / "model")
        loaded = load(tmp_path / "model")
        a, b = fitted.generate(4, seed=2), loaded.generate(4, seed=2)
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x.numbers, y.numbers)
            np.testing.assert_allclose(x.cell[:], y.cell[:], rtol=1e-6)

    @pytest.mark.parametrize("suffix", [".extxyz", ".cif"])
    def test_generated_structures_round_trip_through_ase_files(
        self, fitted, tmp_path, suffix
    ):
        structures = fitted.generate(5, seed=3)
        path = write_structures(structures, tmp_path / f"gen{suffix}")
        back = ase.io.read(path, index=":")
        assert len(back) == 5
        for a, b in zip(structures, back, strict=True):
            np.testing.assert_array_equal(a.numbers, b.numbers)
            np.testing.assert_allclose(a.cell.cellpar(), b.cell.cellpar(), atol=1e-4)
            np.testing.assert_allclose(
                np.mod(a.get_scaled_positions() + 1e-7, 1.0),
                np.mod(b.get_scaled_positions() + 1e-7, 1.0),
                atol=1e-4,
            )


HAS_CRYSTAL_EXTRA = all(
    importlib.util.find_spec(name) for name in ("pymatgen", "smact", "matminer")
)


@pytest.mark.skipif(not HAS_CRYSTAL_EXTRA, reason='needs pip install "molmat[crystal]"')
class TestMetrics:
    def test_a_structure_matches_itself_and_a_rattled_copy_less_well(self, frames):
        from molmat.tasks.crystal_metrics import match_rate

        ref = [frame_atoms(f) for f in frames[:10]]
        rattled = [a.copy() for a in ref]
        for a in rattled:
            a.rattle(0.05, seed=1)
        same = match_rate(ref, ref, progress=False)
        assert same["match_rate"] == 100.0 and same["rmse"] < 1e-6
        moved = match_rate(rattled, ref, progress=False)
        assert moved["match_rate"] == 100.0 and 0.005 < moved["rmse"] < 0.2
        far = [
            Atoms(
                "Na2", scaled_positions=[[0, 0, 0], [0.1, 0, 0]], cell=[9] * 3, pbc=True
            )
        ]
        assert match_rate(far, ref[:1], progress=False)["match_rate"] == 0.0

    def test_validity_follows_cdvaes_definitions(self):
        from molmat.tasks.crystal_metrics import (
            composition_valid,
            structure_valid,
            to_structure,
        )

        salt = to_structure(
            Atoms(
                "NaCl",
                scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]],
                cell=[3.2] * 3,
                pbc=True,
            )
        )
        assert structure_valid(salt) and composition_valid(salt)
        close = to_structure(
            Atoms(
                "NaCl",
                scaled_positions=[[0, 0, 0], [0.05, 0, 0]],
                cell=[3.2] * 3,
                pbc=True,
            )
        )
        assert not structure_valid(close)
        flat = Atoms("Na", cell=[[1, 0, 0], [0, 1, 0], [1, 1, 0]], pbc=True)
        assert to_structure(flat) is None and not structure_valid(to_structure(flat))
        sodium_fluorine = to_structure(
            Atoms(
                "NaF3",
                scaled_positions=np.random.default_rng(0).random((4, 3)),
                cell=[6] * 3,
                pbc=True,
            )
        )
        assert not composition_valid(sodium_fluorine)

    def test_a_set_covers_itself_at_zero_distance(self, frames):
        from molmat.tasks.crystal_metrics import generation_metrics

        ref = [frame_atoms(f) for f in frames[:12]]
        found = generation_metrics(ref, ref, progress=False)
        assert found["structure_validity"] == 100.0
        assert found["cov_recall"] == 100.0 and found["cov_precision"] == 100.0
        assert found["wdist_density"] == 0.0 and found["wdist_n_elements"] == 0.0


def test_the_crystal_command_trains_generates_and_evaluates(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["--epochs", "2", "--hidden", "16", "--layers", "1", "--sampling-steps", "5"]
    assert (
        main(
            [
                "crystal",
                "train",
                "--data",
                str(DATA),
                "--out",
                str(run),
                "--no-progress",
                "--test-fraction",
                "0.1",
                *args,
            ]
        )
        == 0
    )
    assert (run / "model" / "config.json").exists() and (run / "test.extxyz").exists()
    gen = tmp_path / "gen.extxyz"
    assert (
        main(
            [
                "crystal",
                "generate",
                "--model",
                str(run),
                "-n",
                "6",
                "--out",
                str(gen),
                "--no-progress",
            ]
        )
        == 0
    )
    assert len(ase.io.read(gen, index=":")) == 6
    train = json.loads((run / "split.json").read_text())["train"][:4]
    frames, _ = read_crystals(DATA)
    known = write_structures(
        [frame_atoms(frames[i]) for i in train], tmp_path / "k.extxyz"
    )
    csp = tmp_path / "csp.cif"
    assert (
        main(
            [
                "crystal",
                "generate",
                "--model",
                str(run),
                "--compositions-of",
                str(known),
                "--out",
                str(csp),
                "--no-progress",
            ]
        )
        == 0
    )
    assert len(ase.io.read(csp, index=":")) == 4
    if HAS_CRYSTAL_EXTRA:
        out = tmp_path / "scores.json"
        assert (
            main(
                [
                    "crystal",
                    "evaluate",
                    "--generated",
                    str(csp),
                    "--reference",
                    str(known),
                    "--out",
                    str(out),
                    "--no-progress",
                ]
            )
            == 0
        )
        scores = json.loads(out.read_text())
        assert scores["mode"] == "csp" and 0 <= scores["match_rate"] <= 100
        assert "DiffCSP (published)" in capsys.readouterr().out


def test_the_crystal_command_reports_bad_input_without_a_traceback(tmp_path, capsys):
    code = main(
        [
            "crystal",
            "generate",
            "--model",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "x.extxyz"),
        ]
    )
    err = capsys.readouterr().err
    assert code != 0 and "no such model archive" in err and "Traceback" not in err


def test_cdvae_sets_by_name_say_how_to_get_them_or_read_them(tmp_path, monkeypatch):
    from molmat.data.csv import DataError

    monkeypatch.delenv("MOLMAT_CDVAE_DIR", raising=False)
    with pytest.raises(DataError, match="git clone https://github.com/txie-93/cdvae"):
        read_crystals("perov_5")
    (tmp_path / "perov_5").mkdir()
    (tmp_path / "perov_5" / "train.csv").write_bytes(
        __import__("gzip").decompress(DATA.read_bytes())
    )
    monkeypatch.setenv("MOLMAT_CDVAE_DIR", str(tmp_path))
    frames, _ = read_crystals("perov_5")
    assert len(frames) == 120
