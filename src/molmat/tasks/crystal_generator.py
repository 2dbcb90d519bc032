"""Generate crystal structures: de novo, or for a given composition.

:class:`CrystalGenerator` learns lattices, fractional coordinates and atom
types of a set of crystals with a periodic denoiser
(:class:`~molmat.models.generative.crystal.CrystalDenoiser`) under a
diffusion (DiffCSP) or flow-matching (FlowMM) process, on the shared
training engine. One model does both jobs: in each epoch every training
crystal is, by a seeded coin (``task="both"``), either a structure
prediction example (types given) or a de novo one (types generated).

- :meth:`CrystalGenerator.generate` samples ``n`` new crystals (numbers of
  atoms drawn from the training set's).
- :meth:`CrystalGenerator.predict_structures` samples one structure per
  composition (structure prediction).

Both return ``ase.Atoms`` (periodic, Å), ready for extxyz or CIF.

Example:
    >>> gen = CrystalGenerator("diffusion").fit(frames)  # doctest: +SKIP
    >>> gen.predict_structures(["SrTiO3"])[0].cell.lengths()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols
from ase.formula import Formula
from sklearn.base import BaseEstimator

from molmat.data.console import progress_bar
from molmat.data.crystals import read_structure_table
from molmat.data.csv import DataError
from molmat.data.datasets import NOT_BUNDLED
from molmat.data.structures import Frame
from molmat.models.generative.crystal import CrystalDenoiser, pad_crystals
from molmat.models.generative.crystal_noise import (
    PROCESSES,
    CrystalBatch,
    make_process,
    noise_start,
)
from molmat.training import archive
from molmat.training.engine import Engine, OptimizerConfig, plateau_callbacks

log = logging.getLogger("molmat")

TASKS = ("both", "csp", "denovo")
CDVAE_SETS = ("perov_5", "mp_20", "carbon_24")
CDVAE_ENV = "MOLMAT_CDVAE_DIR"
KNOWN_SHARE = {"both": 0.5, "csp": 1.0, "denovo": 0.0}


def cdvae_split(name: str, split: str = "train") -> Path:
    """The CSV of one of CDVAE's sets (``perov_5``, ``mp_20``,
    ``carbon_24``) under ``$MOLMAT_CDVAE_DIR`` (CDVAE's ``data`` folder);
    a :class:`DataError` saying how to get it when it is not there."""
    folder = os.environ.get(CDVAE_ENV)
    if folder and (Path(folder) / name / f"{split}.csv").exists():
        return Path(folder) / name / f"{split}.csv"
    raise DataError(f"{name} is not bundled with molmat. {NOT_BUNDLED[name]}")


def read_crystals(source: str | Path) -> tuple[list[Frame], list[str]]:
    """The periodic structures of ``source`` (extxyz, CIF, a folder or
    archive of them, a CSV with a ``cif`` column, or the name of one of
    CDVAE's sets, see :func:`cdvae_split`) and their names; bad structures
    are logged with their reason and left out."""
    if str(source) in CDVAE_SETS and not Path(source).exists():
        source = cdvae_split(str(source))
    table = read_structure_table(source, require_targets=False)
    frames, names = [], []
    for name, frame in zip(table.names, table.structures, strict=True):
        if not frame.pbc.all():
            log.warning(
                "%s: %s is not periodic in 3 directions; left out", source, name
            )
            continue
        frames.append(frame)
        names.append(name)
    for bad in table.report.bad_rows:
        log.warning("%s: %s", source, bad)
    if not frames:
        raise DataError(f"{source}: no usable periodic structure")
    return frames, names


def fractional(frame: Frame) -> np.ndarray:
    """Fractional coordinates [n, 3] of ``frame``'s atoms, in [0, 1)."""
    frac = np.linalg.solve(frame.cell.T, frame.positions.T).T
    return np.mod(frac, 1.0)


def composition_numbers(composition: str | list[int]) -> np.ndarray:
    """Atomic numbers, one per atom of the cell, of a formula (``SrTiO3``,
    ``Sr2Ti2O6`` for two formula units) or a list of atomic numbers."""
    if isinstance(composition, str):
        try:
            count = Formula(composition).count()
        except ValueError as err:
            raise ValueError(f"{composition!r} is not a chemical formula") from err
        unknown = [s for s in count if s not in atomic_numbers]
        if unknown or not count:
            raise ValueError(f"{composition!r}: unknown elements {unknown}")
        return np.asarray(
            [atomic_numbers[s] for s, k in count.items() for _ in range(k)], np.int32
        )
    return np.asarray(composition, np.int32)


@dataclass(frozen=True)
class GeneratorLoss:
    """The process's loss on a host batch (a :class:`CrystalBatch` tuple)."""

    process: object

    def __call__(self, net, batch, key):
        return self.process.loss(net, CrystalBatch(*batch), key)


@eqx.filter_jit
def _sample(net, process, start: CrystalBatch, key) -> CrystalBatch:
    return process.sample(net, noise_start(start, key), jax.random.fold_in(key, 1))


@eqx.filter_jit
def _batch_loss(net, process, batch: CrystalBatch, key):
    return process.loss(net, batch, key)


class CrystalGenerator(BaseEstimator):
    """A generative model of crystal structures.

    Args:
        model: ``"diffusion"`` (DiffCSP) or ``"flow-matching"`` (FlowMM).
        task: ``"both"`` (one model for de novo generation and structure
            prediction), ``"csp"`` (types always given) or ``"denovo"``.
        hidden, layers, frequencies: the denoiser's width, message rounds
            and Fourier frequencies.
        sampling_steps: reverse steps (diffusion: the number of noise
            levels, 1000 in DiffCSP) or Euler steps (flow matching).
        anti_annealing: flow matching: coordinate velocities × ``1 + s t``
            when sampling.
        corrector_step: diffusion: the Langevin step scale ``γ`` of the
            corrector (``γ (σ_t / σ_min)²``; 0: predictor only).
        epochs, batch_size, lr, weight_decay: AdamW on minibatches.
        patience: stop after this many epochs without a lower validation
            loss (the loss at fixed noise draws), keeping the best epoch.
        ema_epochs: weights averaged over about this many epochs of steps.
        val_fraction: share of the crystals held out for validation.
        seed: split, initialisation, batches, noise.
        progress: show progress bars.
    """

    def __init__(
        self,
        model: str = "diffusion",
        task: str = "both",
        hidden: int = 128,
        layers: int = 4,
        frequencies: int = 16,
        sampling_steps: int | None = None,
        anti_annealing: float = 0.0,
        corrector_step: float = 1e-5,
        epochs: int = 1000,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 200,
        ema_epochs: float = 10.0,
        val_fraction: float = 0.1,
        seed: int = 0,
        progress: bool = True,
    ):
        self.model = model
        self.task = task
        self.hidden = hidden
        self.layers = layers
        self.frequencies = frequencies
        self.sampling_steps = sampling_steps
        self.anti_annealing = anti_annealing
        self.corrector_step = corrector_step
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.ema_epochs = ema_epochs
        self.val_fraction = val_fraction
        self.seed = seed
        self.progress = progress

    # -- setup ---------------------------------------------------------------
    def _process(self):
        if self.model not in PROCESSES:
            raise ValueError(f"unknown model {self.model!r}; choose one of {PROCESSES}")
        settings = {}
        if self.sampling_steps is not None:
            settings["steps"] = int(self.sampling_steps)
        if self.model == "flow-matching":
            settings["anti_annealing"] = float(self.anti_annealing)
        else:
            settings["corrector_step"] = float(self.corrector_step)
        return make_process(self.model, **settings)

    def _template(self, key) -> CrystalDenoiser:
        return CrystalDenoiser(
            len(self.elements_),
            self.hidden,
            self.layers,
            self.frequencies,
            key=key,
        )

    def _encode(self, frames: list[Frame]) -> dict[str, np.ndarray]:
        """Padded arrays of ``frames``: scaled lattices, fractional
        coordinates, type indices and masks."""
        index = {z: i for i, z in enumerate(self.elements_)}
        lattices = [f.cell / self.length_scale_ for f in frames]
        fracs = [fractional(f) for f in frames]
        types = [np.asarray([index[int(z)] for z in f.numbers]) for f in frames]
        lattice, frac, idx, mask = pad_crystals(lattices, fracs, types, self.max_atoms_)
        return {"lattice": lattice, "frac": frac, "index": idx, "mask": mask}

    def _types(self, index: np.ndarray, mask: np.ndarray) -> np.ndarray:
        onehot = np.eye(len(self.elements_), dtype=np.float32)[index] * 2 - 1
        return onehot * mask[..., None]

    # -- fitting -------------------------------------------------------------
    def fit(
        self,
        frames: list[Frame],
        checkpoint_dir: str | Path | None = None,
        metrics_log: str | Path | None = None,
        resume: bool = False,
    ) -> CrystalGenerator:
        """Learn the distribution of the periodic structures ``frames``."""
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {TASKS}")
        process = self._process()
        if len(frames) < 10:
            raise DataError(f"{len(frames)} crystals: a generator needs at least 10")
        self.elements_ = sorted({int(z) for f in frames for z in f.numbers})
        self.max_atoms_ = max(f.n_atoms for f in frames)
        self.length_scale_ = float(
            np.mean([np.linalg.norm(f.cell, axis=1).mean() for f in frames])
        )
        self.atom_counts_ = dict(sorted(Counter(f.n_atoms for f in frames).items()))
        data = self._encode(frames)
        types = self._types(data["index"], data["mask"])

        n = len(frames)
        order = np.random.default_rng(self.seed).permutation(n)
        n_val = int(round(self.val_fraction * n)) if n >= 20 else 0
        val, train = order[:n_val], order[n_val:]
        batch = min(self.batch_size, len(train))
        steps_per_epoch = -(-len(train) // batch)
        share = KNOWN_SHARE[self.task]

        def host_batch(rows: np.ndarray, known: np.ndarray) -> tuple:
            pad = -len(rows) % batch
            weight = np.r_[np.ones(len(rows)), np.zeros(pad)].astype(np.float32)
            rows = np.r_[rows, np.repeat(rows[:1], pad)]
            known = np.r_[known, np.repeat(known[:1], pad)]
            return (
                data["lattice"][rows],
                data["frac"][rows],
                types[rows],
                data["mask"][rows],
                known,
                weight,
            )

        def batches(epoch: int):
            rng = np.random.default_rng([self.seed, epoch])
            rows = rng.permutation(train)
            known = rng.random(len(rows)) < share
            parts = [
                host_batch(rows[i : i + batch], known[i : i + batch])
                for i in range(0, len(rows), batch)
            ]
            return jax.tree.map(lambda *xs: np.stack(xs), *parts)

        val_known = np.random.default_rng([self.seed, 1_000_003]).random(n_val) < share
        val_batches = [
            host_batch(val[i : i + batch], val_known[i : i + batch])
            for i in range(0, n_val, batch)
        ]

        def validate(net):
            totals = []
            for i, b in enumerate(val_batches):
                key = jax.random.key(10_000 + i)
                loss, terms = _batch_loss(net, process, CrystalBatch(*b), key)
                totals.append(np.r_[float(loss), np.asarray(terms)] * b[-1].sum())
            mean = np.sum(totals, axis=0) / n_val
            names = ("loss", "lattice", "frac", "types")
            return dict(zip(names, map(float, mean), strict=True)), float(mean[0])

        callbacks = plateau_callbacks(
            bool(n_val), self.patience, max(self.patience // 3, 1), metrics_log
        )
        ema = (
            1.0 - 1.0 / (self.ema_epochs * steps_per_epoch) if self.ema_epochs else 0.0
        )
        engine = Engine(
            GeneratorLoss(process),
            OptimizerConfig(lr=self.lr, weight_decay=self.weight_decay, grad_clip=1.0),
            epochs=self.epochs,
            seed=self.seed,
            ema_decay=ema,
            callbacks=callbacks,
            validate=validate if n_val else None,
            checkpoint_dir=checkpoint_dir,
            term_names=("lattice", "frac", "types"),
            fingerprint={
                **self.get_params(),
                "epochs": None,
                "progress": None,
                "anti_annealing": None,  # sampling only
                "corrector_step": None,
                "n": n,
                "elements": self.elements_,
            },
            scan=True,
            throughput=("crystals", len(train)),
            progress=self.progress,
        )
        net = self._template(jax.random.key(self.seed))
        self.net_, self.history_ = engine.fit(net, batches, resume=resume)
        self.n_train_, self.n_val_ = len(train), n_val
        return self

    # -- sampling ------------------------------------------------------------
    def generate(self, n: int, seed: int = 0, batch: int = 256) -> list[Atoms]:
        """``n`` new crystals; their numbers of atoms are drawn from the
        training set's distribution."""
        sizes, weights = zip(*self.atom_counts_.items(), strict=True)
        p = np.asarray(weights, float) / sum(weights)
        counts = np.random.default_rng([seed, 7]).choice(sizes, size=n, p=p)
        requests = [np.zeros(int(c), np.int32) for c in counts]
        return self._sample(requests, known=False, seed=seed, batch=batch)

    def predict_structures(
        self, compositions: list[str | list[int]], seed: int = 0, batch: int = 256
    ) -> list[Atoms]:
        """One structure per composition (a formula for the whole cell, or
        atomic numbers, one per atom)."""
        if self.task == "denovo":
            raise ValueError(
                "this generator was trained for de novo generation only "
                "(task='denovo'); train with task='csp' or 'both' to predict "
                "structures of given compositions"
            )
        requests = [composition_numbers(c) for c in compositions]
        known = set(self.elements_)
        for c, numbers in zip(compositions, requests, strict=True):
            unknown = sorted({chemical_symbols[z] for z in numbers if z not in known})
            if unknown:
                label = (
                    c if isinstance(c, str) else Atoms(numbers).get_chemical_formula()
                )
                raise ValueError(
                    f"composition {label}: element(s) {unknown} never seen in training "
                    f"(the generator knows "
                    f"{', '.join(chemical_symbols[z] for z in self.elements_)})"
                )
        return self._sample(requests, known=True, seed=seed, batch=batch)

    def _sample(
        self, requests: list[np.ndarray], known: bool, seed: int, batch: int
    ) -> list[Atoms]:
        """Sample crystals for ``requests`` (atomic numbers per crystal; used
        only when ``known``) in fixed-size padded batches."""
        if not requests:
            return []
        process = self._process()
        atoms = max(self.max_atoms_, max(len(r) for r in requests))
        batch = min(batch, len(requests))
        index = {z: i for i, z in enumerate(self.elements_)}
        out: list[Atoms] = []
        bar = progress_bar(
            total=len(requests), desc="sampling", unit="crystal", enabled=self.progress
        )
        key = jax.random.key(seed)
        for start in range(0, len(requests), batch):
            part = requests[start : start + batch]
            pad = batch - len(part)
            full = part + [part[0]] * pad
            idx = [np.asarray([index.get(int(z), 0) for z in r]) for r in full]
            zero = np.zeros((3, 3))
            f0 = [np.zeros((len(r), 3)) for r in full]
            lattice, frac, types, mask = pad_crystals([zero] * batch, f0, idx, atoms)
            sample = _sample(
                self.net_,
                process,
                CrystalBatch(
                    jnp.asarray(lattice),
                    jnp.asarray(frac),
                    jnp.asarray(self._types(types, mask)),
                    jnp.asarray(mask),
                    jnp.full(batch, known),
                    jnp.ones(batch),
                ),
                jax.random.fold_in(key, start),
            )
            out += self._to_atoms(sample, mask, len(part))
            bar.update(len(part))
        bar.close()
        return out

    def _to_atoms(self, sample: CrystalBatch, mask: np.ndarray, n: int) -> list[Atoms]:
        lattice = np.asarray(sample.lattice, np.float64) * self.length_scale_
        frac = np.asarray(sample.frac, np.float64)
        types = np.asarray(self.elements_)[np.argmax(np.asarray(sample.types), -1)]
        found = []
        for i in range(n):
            real = mask[i]
            found.append(
                Atoms(
                    numbers=types[i][real],
                    scaled_positions=frac[i][real],
                    cell=lattice[i],
                    pbc=True,
                )
            )
        return found

    # -- persistence ---------------------------------------------------------
    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write a model archive folder (config.json, params.npz, metrics.json)."""
        config = {
            "kind": "crystal-generator",
            "params": self.get_params(),
            "elements": self.elements_,
            "max_atoms": self.max_atoms_,
            "length_scale": self.length_scale_,
            "atom_counts": {str(k): v for k, v in self.atom_counts_.items()},
            "history": {
                "best_epoch": self.history_.best_epoch,
                "epochs_run": len(self.history_.records),
            },
        }
        return archive.save_archive(path, self.net_, config, metrics)


def load_crystal_generator(folder: Path, config: dict) -> CrystalGenerator:
    """Rebuild a :class:`CrystalGenerator` from its archive folder and config."""
    try:
        model = CrystalGenerator(**{**config["params"], "progress": False})
        model.elements_ = [int(z) for z in config["elements"]]
        model.max_atoms_ = int(config["max_atoms"])
        model.length_scale_ = float(config["length_scale"])
        model.atom_counts_ = {int(k): int(v) for k, v in config["atom_counts"].items()}
        model._process()
        template = jax.eval_shape(lambda: model._template(jax.random.key(0)))
    except (KeyError, TypeError, ValueError) as err:
        raise archive.ArchiveError(
            f"{folder}: incomplete or invalid config ({err!r})"
        ) from err
    model.net_ = archive.load_params(folder, template)
    return model
