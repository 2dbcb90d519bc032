"""``PotentialModel``: train, evaluate and use a neural-network interatomic potential.

Example:
    >>> from molmat.data.structures import read_structures
    >>> data = read_structures("frames.extxyz")  # doctest: +SKIP
    >>> pot = PotentialModel("painn", epochs=100).fit(data.frames)  # doctest: +SKIP
    >>> pot.save("runs/pot")  # doctest: +SKIP
    >>> atoms.calc = load("runs/pot").calculator()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import jax
import numpy as np
from sklearn.base import BaseEstimator

from molmat.data.csv import DataError
from molmat.data.graphs import GraphSet
from molmat.data.statistics import (
    element_table,
    energy_scale_shift,
    fit_e0s,
    isolated_atom_e0s,
    reference_energies,
    structure_sums,
)
from molmat.data.structures import Frame, as_frames, species_of, structure_graphs
from molmat.models.potentials.common import EnergyScaling
from molmat.models.potentials.inference import (
    cast,
    potential_batching,
    predict_structures,
)
from molmat.models.potentials.registry import POTENTIALS, build_potential
from molmat.nn.compilation import float_dtype, precision
from molmat.training import archive
from molmat.training.engine import Callback, History, Loop, MetricsLog
from molmat.training.potential import (
    PotentialTrainConfig,
    PotentialTrainer,
    potential_metrics,
)

log = logging.getLogger("molmat")

# Network sizes used when an option is left at None.
DEFAULT_SIZES = {
    "nequip": {"lmax": 2, "channels": 32, "layers": 3},
    "painn": {"channels": 64, "layers": 3},
    "schnet": {"channels": 64, "layers": 3},
}


class PotentialModel(BaseEstimator):
    """A neural-network interatomic potential with scikit-learn's contract.

    ``__init__`` stores the settings only (``get_params``/``set_params`` and
    ``sklearn.base.clone`` work); what ``fit`` learns ends in ``_``.

    Args:
        model: ``"painn"`` (fastest to train well on CPU), ``"nequip"`` or
            ``"schnet"``.
        cutoff: neighbour radius (Å).
        lmax: highest rotation order (NequIP only).
        channels, layers: network width and depth (None: the model's default).
        epochs, time_limit, batch_size, lr, lr_schedule: see
            :class:`~molmat.training.potential.PotentialTrainConfig`
            (``time_limit`` in minutes).
        energy_weight, forces_weight, stress_weight, ema_decay, plateau_patience:
            see :class:`~molmat.training.potential.PotentialTrainConfig`.
        val_frames: structures held out of the training frames for validation
            when ``fit`` gets no validation frames (0: none).
        e0s: per-element reference energies (eV) taken off the energies
            before training: ``"average"`` (least squares of the training
            energies on their compositions, MACE's ``average``),
            ``"isolated"`` (the isolated-atom frames; every element needs
            one), ``"auto"`` (isolated when they cover every element, else
            average), a ``{Z: eV}`` dict or a JSON file of one
            (``{"1": -13.6, ...}``, by atomic number).
        float64: train and predict in double precision.
        seed: initialisation, shuffling and hold-out seed.
        progress: show progress bars.

    Attributes (after ``fit`` or ``load``):
        potential_: the trained network (an Equinox module, float32 or float64).
        scaling_: species, E0s and energy scale from the training data.
        history_: per-epoch records.
    """

    def __init__(
        self,
        model: str = "painn",
        cutoff: float = 5.0,
        lmax: int | None = None,
        channels: int | None = None,
        layers: int | None = None,
        epochs: int = 1000,
        time_limit: float | None = None,
        batch_size: int = 8,
        lr: float = 5e-3,
        lr_schedule: str = "plateau",
        energy_weight: float = 1.0,
        forces_weight: float = 10.0,
        stress_weight: float = 1.0,
        ema_decay: float = 0.99,
        plateau_patience: int = 10,
        val_frames: int = 50,
        e0s: str | dict = "auto",
        float64: bool = False,
        seed: int = 0,
        progress: bool = True,
    ):
        self.model = model
        self.cutoff = cutoff
        self.lmax = lmax
        self.channels = channels
        self.layers = layers
        self.epochs = epochs
        self.time_limit = time_limit
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.energy_weight = energy_weight
        self.forces_weight = forces_weight
        self.stress_weight = stress_weight
        self.ema_decay = ema_decay
        self.plateau_patience = plateau_patience
        self.val_frames = val_frames
        self.e0s = e0s
        self.float64 = float64
        self.seed = seed
        self.progress = progress

    # -- settings ------------------------------------------------------------
    def network_settings(self) -> dict:
        """Constructor arguments of the network (cutoff and sizes).

        Raises:
            ValueError: an unknown model or a size it does not have.
        """
        if self.model not in POTENTIALS:
            raise ValueError(
                f"unknown potential {self.model!r}; choose from {sorted(POTENTIALS)}"
            )
        sizes = dict(DEFAULT_SIZES[self.model])
        for name in ("lmax", "channels", "layers"):
            value = getattr(self, name)
            if value is not None:
                if name not in sizes:
                    raise ValueError(f"{self.model} has no {name} setting")
                sizes[name] = value
        return {"cutoff": float(self.cutoff), **sizes}

    def train_config(self) -> PotentialTrainConfig:
        return PotentialTrainConfig(
            epochs=self.epochs,
            time_limit=self.time_limit,
            batch_size=self.batch_size,
            lr=self.lr,
            lr_schedule=self.lr_schedule,
            energy_weight=self.energy_weight,
            forces_weight=self.forces_weight,
            stress_weight=self.stress_weight,
            ema_decay=self.ema_decay,
            plateau_patience=self.plateau_patience,
            seed=self.seed,
        )

    def _precision(self, float64: bool | None = None):
        """:func:`precision` of ``float64`` (None: this model's setting)."""
        return precision(self.float64 if float64 is None else float64)

    @property
    def dtype(self):
        return float_dtype(self.float64)

    # -- fitting -------------------------------------------------------------
    def fit(
        self,
        frames,
        val=None,
        run_dir: str | Path | None = None,
        resume: bool = False,
    ) -> PotentialModel:
        """Train on ``frames`` (Frames, ase.Atoms or StructureData).

        Isolated-atom frames are not trained on; they give the reference
        energies (E0s) as :attr:`e0s` says.

        Args:
            frames: training structures with energies (and forces/stress).
            val: validation structures; None holds out ``val_frames`` of
                ``frames`` at random.
            run_dir: when given, the best model so far is archived to
                ``run_dir/model`` whenever validation improves, each epoch is
                appended to ``run_dir/metrics.jsonl`` and a checkpoint is
                written to ``run_dir/checkpoint/`` after every epoch.
            resume: continue from the checkpoint in ``run_dir`` (same
                settings and data); the result equals an uninterrupted run.

        Returns:
            self, fitted: :attr:`potential_`, :attr:`scaling_`,
            ``e0_method_`` and :attr:`history_`.
        """
        train_config = self.train_config()  # settings checked before any work
        self.network_settings()
        if self.val_frames < 0:
            raise ValueError(f"val_frames must be >= 0, got {self.val_frames}")
        frames = as_frames(frames)
        unlabelled = [f.index for f in frames if not np.isfinite(f.energy)]
        if unlabelled:
            raise DataError(
                f"{len(unlabelled)} training structures have no energy (first: "
                f"{unlabelled[:5]}); attach a calculator or an 'energy' info key"
            )
        isolated = [f for f in frames if f.is_isolated_atom]
        frames = [f for f in frames if not f.is_isolated_atom]
        if val is None and self.val_frames:
            if len(frames) <= self.val_frames:
                raise DataError(
                    f"{len(frames)} training frames leave none after holding out "
                    f"{self.val_frames} for validation"
                )
            order = np.random.default_rng(self.seed).permutation(len(frames))
            val = [frames[i] for i in order[: self.val_frames]]
            frames = [frames[i] for i in order[self.val_frames :]]
        val = [f for f in as_frames(val or []) if not f.is_isolated_atom]
        if not frames:
            raise DataError("no training frames")
        species = species_of(frames)
        unseen = sorted(set(species_of(val)) - set(species)) if val else []
        if unseen:
            raise DataError(
                f"validation frames hold elements {unseen} that no training frame "
                "has; their reference energies cannot be fitted"
            )
        e0s, how = self.reference_energies(frames, species, isolated)
        log.info(
            "%d training, %d validation frames; E0s by %s: %s",
            len(frames),
            len(val),
            how,
            {z: round(e, 4) for z, e in e0s.items()},
        )
        # Train on energies minus their E0 sums (taken in float64 here), so
        # float32 never has to resolve meV on totals of thousands of eV; the
        # E0s are static fields, added back to the trained weights at the end.
        train_graphs = _relative_to(structure_graphs(frames), e0s)
        val_graphs = _relative_to(structure_graphs(val), e0s) if val else None
        batcher = potential_batching(self.cutoff).batcher(
            train_graphs, self.batch_size, self.progress
        )
        neighbours = batcher.pairs.n_pairs.sum() / max(train_graphs.n_atoms.sum(), 1)
        scale, shift = energy_scale_shift(
            train_graphs.energy,
            train_graphs.n_atoms,
            train_graphs.forces,
            np.repeat(train_graphs.has_forces, train_graphs.n_atoms),
        )
        self.scaling_ = EnergyScaling(
            species,
            tuple(e0s[z] for z in species),
            scale=scale,
            shift=shift,
            avg_num_neighbors=max(float(neighbours), 1.0),
        )
        self.e0_method_ = how
        residual = dataclasses.replace(self.scaling_, e0s=None)
        callbacks, checkpoint_dir = [], None
        if run_dir is not None:
            run_dir = Path(run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
            checkpoint_dir = run_dir / "checkpoint"
            callbacks = [
                MetricsLog(run_dir / "metrics.jsonl"),
                ArchiveBest(self, run_dir / "model"),
            ]
        elif resume:
            raise ValueError("resume needs the run_dir of the interrupted run")
        with self._precision():
            net = cast(
                build_potential(
                    self.model, residual, self.network_settings(), self.seed
                ),
                self.dtype,
            )
            trainer = PotentialTrainer(
                train_config, callbacks, checkpoint_dir, self.progress
            )
            trained, self.history_ = trainer.fit(
                net, train_graphs, val_graphs, resume, batcher
            )
            self.potential_ = self._network(jax.tree_util.tree_leaves(trained))
        return self

    def reference_energies(
        self, frames: list[Frame], species: tuple[int, ...], isolated: list[Frame]
    ) -> tuple[dict[int, float], str]:
        """E0s (eV) of ``species`` chosen by :attr:`e0s`, and how they were found.

        Raises:
            DataError: an element without an isolated-atom frame or a given
                E0; an unreadable E0 file (named).
        """
        if self.e0s == "auto":
            return reference_energies(frames, species, isolated)
        if self.e0s == "average":
            return fit_e0s(frames, species), "least squares"
        if self.e0s == "isolated":
            given, how = isolated_atom_e0s(isolated), "isolated atoms"
            source = "the isolated-atom frames"
        else:
            given, source = _given_e0s(self.e0s), str(self.e0s)
            how = "given" if isinstance(self.e0s, dict) else f"given in {self.e0s}"
        missing = [z for z in species if z not in given]
        if missing:
            raise DataError(
                f"E0s: {source} give no reference energy for elements {missing} "
                f"(atomic numbers) of the training frames"
            )
        return {z: given[z] for z in species}, how

    def _network(self, leaves: list):
        """The network with :attr:`scaling_` around the parameter ``leaves``."""
        template = jax.eval_shape(
            lambda: build_potential(self.model, self.scaling_, self.network_settings())
        )
        treedef = jax.tree_util.tree_structure(template)
        return jax.tree_util.tree_unflatten(treedef, leaves)

    # -- prediction ----------------------------------------------------------
    def _graphs(self, frames) -> tuple[list[Frame], GraphSet]:
        self._check_fitted()
        frames = as_frames(frames)
        for f in frames:
            self.potential_.check_elements(f.numbers, f"frame {f.index}")
        return frames, structure_graphs(frames)

    def predict(
        self, frames, batch_size: int = 32, float64: bool | None = None
    ) -> dict:
        """Energies [S] (eV), forces (list of [n, 3] in eV/Å), stress [S, 3, 3].

        Stress is in eV/Å^3 (0 for non-periodic structures). ``float64``
        evaluates in double (True) or single (False) precision; None keeps
        the model's own.
        """
        frames, graphs = self._graphs(frames)
        with self._precision(float64):
            pred = predict_structures(self._cast(float64), graphs, batch_size)
        return _as_dict(graphs, pred)

    def evaluate(
        self, frames, batch_size: int = 32, float64: bool | None = None
    ) -> dict:
        """Energy MAE/RMSE (meV, meV/atom), force MAE/RMSE (meV/Å), stress if known.

        ``float64`` as in :meth:`predict`.
        """
        return self.evaluate_predict(frames, batch_size, float64)[0]

    def evaluate_predict(
        self, frames, batch_size: int = 32, float64: bool | None = None
    ) -> tuple[dict, dict]:
        """Metrics (as :meth:`evaluate`) and predictions (as :meth:`predict`).

        One prediction pass; forces and stress are predicted only when some
        frame carries force or stress labels (NaN otherwise). ``float64`` as
        in :meth:`predict`.
        """
        _, graphs = self._graphs(frames)
        with self._precision(float64):
            pred = predict_structures(
                self._cast(float64),
                graphs,
                batch_size,
                bool(graphs.has_forces.any() or graphs.has_stress.any()),
            )
        return potential_metrics(graphs, pred), _as_dict(graphs, pred)

    def _cast(self, float64: bool | None):
        """The potential in ``float64``'s precision (None: as it is); call it
        inside :meth:`_precision` of the same ``float64``."""
        if float64 is None:
            return self.potential_
        return cast(self.potential_, float_dtype(float64))

    def calculator(self, float64: bool | None = None, **kwargs):
        """An ASE calculator over this potential (``molmat.calculators.ase``).

        Args:
            float64: evaluate in double (True) or single (False) precision;
                None keeps the model's own.
            **kwargs: passed to
                :class:`~molmat.calculators.ase.MolmatCalculator`.
        """
        from molmat.calculators.ase import MolmatCalculator

        self._check_fitted()
        float64 = self.float64 if float64 is None else float64
        return MolmatCalculator(self.potential_, float64=float64, **kwargs)

    def _check_fitted(self):
        if getattr(self, "potential_", None) is None:
            raise RuntimeError("this PotentialModel is not fitted yet; call fit()")

    # -- archive -------------------------------------------------------------
    def save(self, path: str | Path, metrics: dict | None = None) -> Path:
        """Write the archive folder (config.json, params.npz, metrics.json)."""
        self._check_fitted()
        history = getattr(self, "history_", None)
        best_epoch = history.best_epoch if history else -1
        return self._save(path, self.potential_, metrics, best_epoch)

    def _save(self, path, network, metrics: dict | None, best_epoch: int) -> Path:
        config = {
            "kind": "potential",
            "params": self.get_params(),
            "network": {"name": self.model, **self.network_settings()},
            "scaling": self.scaling_.to_dict(),
            "e0_method": getattr(self, "e0_method_", ""),
            "units": {"energy": "eV", "forces": "eV/Å", "stress": "eV/Å^3"},
            "history": {"best_epoch": best_epoch},
        }
        return archive.save_archive(path, network, config, metrics)


class ArchiveBest(Callback):
    """Archives the best model so far whenever validation improves.

    A run stopped at any point thus leaves a usable ``model/`` behind.
    """

    def __init__(self, estimator: PotentialModel, folder: Path):
        self.estimator, self.folder = estimator, folder

    def on_epoch_end(self, loop: Loop, record: dict) -> str | None:
        if loop.improved and "val_objective" in record:
            pot = self.estimator
            network = pot._network(jax.tree_util.tree_leaves(loop.best_model()))
            scores = {k[4:]: v for k, v in record.items() if k.startswith("val_")}
            pot._save(self.folder, network, {"validation": scores}, record["epoch"])
        return None


def load_potential(folder: Path, config: dict) -> PotentialModel:
    """Rebuild a :class:`PotentialModel` from an archive's config and parameters."""
    try:
        pot = PotentialModel(**{**config["params"], "progress": False})
        pot.scaling_ = EnergyScaling.from_dict(config["scaling"])
        pot.e0_method_ = config.get("e0_method", "")
        pot.history_ = History(best_epoch=config["history"]["best_epoch"])
        with pot._precision():
            template = jax.eval_shape(
                lambda: cast(
                    build_potential(pot.model, pot.scaling_, pot.network_settings()),
                    pot.dtype,
                )
            )
    except (KeyError, TypeError, ValueError) as err:
        raise archive.ArchiveError(
            f"{folder}: incomplete potential config ({err})"
        ) from err
    with pot._precision():
        pot.potential_ = archive.load_params(folder, template)
    return pot


def _given_e0s(e0s: dict | str | Path) -> dict[int, float]:
    """``{Z: eV}`` of a dict or a JSON file of one (keys atomic numbers)."""
    name = "e0s"
    if not isinstance(e0s, dict):
        name = str(e0s)
        if not Path(e0s).is_file():
            raise DataError(
                f"E0s {e0s!r}: neither auto, average, isolated nor an existing "
                'JSON file of {"Z": eV}'
            )
        try:
            e0s = json.loads(Path(e0s).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"E0 file {name}: cannot read JSON ({err})") from err
    try:
        return {int(z): float(e) for z, e in e0s.items()}
    except (AttributeError, TypeError, ValueError) as err:
        raise DataError(
            f"E0s {name}: needs {{atomic number: energy in eV}}, e.g. "
            f'{{"1": -13.6}} ({err})'
        ) from err


def _relative_to(graphs: GraphSet, e0s: dict[int, float]) -> GraphSet:
    """``graphs`` with energies minus their atoms' E0s (float64, eV)."""
    e0_sums = structure_sums(element_table(e0s), graphs.numbers, graphs.n_atoms)
    return dataclasses.replace(graphs, energy=graphs.energy - e0_sums)


def _as_dict(graphs: GraphSet, pred) -> dict:
    """:class:`Predictions` as :meth:`PotentialModel.predict` returns them."""
    forces = np.split(pred.forces, graphs.atom_offsets[1:-1])
    return {"energy": pred.energy, "forces": forces, "stress": pred.stress}
