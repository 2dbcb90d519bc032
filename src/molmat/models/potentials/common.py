"""Pieces every energy network shares: species lookup, edge geometry, scaling.

The per-atom energy of every potential is::

    E_i = scale * network_i + (shift + E0[Z_i])

with ``scale``/``shift`` (eV) and the element reference energies ``E0`` fitted
on training data and stored as static fields (they are not trained).
The network computes only ``scale * network_i``; the constant
``shift + E0[Z_i]`` (:meth:`EnergyScaling.reference_table`) is added by
:mod:`molmat.models.potentials.base`, on the host in float64 where energies
leave the device, so that float32 never has to resolve meV on totals of
thousands of eV. Messages are divided by the mean neighbour count of the
training data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from molmat.data.csv import DataError
from molmat.data.statistics import N_ELEMENTS, element_table
from molmat.nn.core import Dense


@dataclass(frozen=True)
class EnergyScaling:
    """Static statistics of the training data a potential is built with.

    Attributes:
        species: atomic numbers the model knows, sorted.
        e0s: reference energy of each species (eV), same order.
        scale: per-atom energy scale (eV), e.g. the RMS of force components.
        shift: per-atom energy shift (eV) added after scaling.
        avg_num_neighbors: mean neighbour count within the cutoff.
    """

    species: tuple[int, ...]
    e0s: tuple[float, ...] | None = None
    scale: float = 1.0
    shift: float = 0.0
    avg_num_neighbors: float = 1.0

    def __post_init__(self):
        species = tuple(int(z) for z in self.species)
        e0s = tuple(float(e) for e in self.e0s or (0.0,) * len(species))
        if len(e0s) != len(species):
            raise ValueError(
                f"{len(e0s)} reference energies for {len(species)} species"
            )
        object.__setattr__(self, "species", species)
        object.__setattr__(self, "e0s", e0s)

    @property
    def n_species(self) -> int:
        return len(self.species)

    def to_dict(self) -> dict:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()
        }

    @classmethod
    def from_dict(cls, d: dict) -> EnergyScaling:
        return cls(**{**d, "species": tuple(d["species"]), "e0s": tuple(d["e0s"])})

    def check_elements(self, numbers, where: str) -> None:
        """Raise :class:`DataError` naming ``where`` if ``numbers`` hold elements
        outside :attr:`species` (which :meth:`species_index` would map to row 0)."""
        unknown = sorted(
            set(np.unique(np.asarray(numbers)).tolist()) - set(self.species)
        )
        if unknown:
            raise DataError(
                f"{where}: elements {unknown} were not in the training data "
                f"(model knows {sorted(self.species)})"
            )

    def species_index(self, numbers: Int[Array, " N"]) -> Int[Array, " N"]:
        """Row of each atom's species in :attr:`species` (0 for unknown/padding)."""
        table = np.zeros(N_ELEMENTS, np.int32)
        table[list(self.species)] = np.arange(self.n_species)
        return jnp.asarray(table)[numbers]

    def reference_table(self, shift: bool = True) -> Float[np.ndarray, " 119"]:
        """Constant energy of an atom of each element, by atomic number (eV).

        Args:
            shift: add :attr:`shift` to the E0s.

        Returns:
            [119] float64: ``E0[Z] + shift`` (``E0[Z]`` without ``shift``) for
            the known species, 0 for every other element.
        """
        offset = self.shift if shift else 0.0
        return element_table(
            {z: e + offset for z, e in zip(self.species, self.e0s, strict=True)}
        )

    def atomic_energies(
        self, out: Float[Array, " N"], mask: Bool[Array, " N"]
    ) -> Float[Array, " N"]:
        """``scale * out`` on real atoms, 0 on padding (eV).

        The energy of each atom relative to :meth:`reference_table`.
        """
        return jnp.where(mask, self.scale * out, 0.0)


class SiLUMLP(eqx.Module):
    """Dense layers with SiLU between them (smooth, so forces are smooth).

    Example:
        >>> mlp = SiLUMLP((8, 16, 1), key=jax.random.key(0))
        >>> mlp(jnp.ones((5, 8))).shape
        (5, 1)
    """

    layers: tuple[Dense, ...]

    def __init__(self, sizes: tuple[int, ...], *, use_bias: bool = True, key):
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            Dense(a, b, use_bias=use_bias, key=k)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True)
        )

    def __call__(self, x: Float[Array, "... d_in"]) -> Float[Array, "... d_out"]:
        for layer in self.layers[:-1]:
            x = jax.nn.silu(layer(x))
        return self.layers[-1](x)


def species_embedding(n_species: int, dim: int, key: PRNGKeyArray) -> Array:
    """A [n_species, dim] table of unit-variance embeddings."""
    return jax.random.normal(key, (n_species, dim))
