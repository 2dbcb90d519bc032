"""Self-supervised objectives for crystal encoders (periodic structures).

**Masked atoms**: each step picks ``rate`` of the real atoms of a batch and
sets their element to 0, the mask (its embedding is the learned offset of
row 0; no element property reaches the encoder); the encoder's state of each
masked atom then predicts its element from the periodic neighbourhood.

**Coordinate denoising** (Zaidi et al., ICLR 2023), on the structures as
given: positions move by Gaussian noise of ``sigma`` Å and the gradient of an
atom-wise scalar with respect to the positions predicts the noise, so the
prediction rotates with the cell while the encoder stays invariant. The pair
list is that of the clean structure; the cutoff envelope makes pairs that
noise moves across the cutoff count smoothly.

Both reuse the losses of the molecular objectives
(:mod:`molmat.models.gnn.pretrain`), and their ``embed`` and ``encoder``
initialise a :class:`~molmat.tasks.crystal.CrystalModel`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from molmat.data.batching import GraphBatch
from molmat.data.statistics import N_ELEMENTS
from molmat.models.crystal.network import (
    CrystalEncoderNet,
    check_crystal_config,
    encoder_parts,
)
from molmat.models.gnn.pretrain import (
    accuracy_loss,
    denoising_loss,
    denoising_sums,
    masked_atom_sums,
    pick_atoms,
)
from molmat.nn.core import Dense


class CrystalMaskedAtomNet(CrystalEncoderNet):
    """A crystal encoder and a linear layer from atom states to element logits."""

    out: Dense
    rate: float = eqx.field(static=True)

    def __call__(self, g: GraphBatch, *, key=None, inference: bool = True):
        """Element logits [N, 119] of every atom."""
        return self.out(self.atom_states(g))

    def mask(self, key: PRNGKeyArray, g: GraphBatch):
        """The batch with ``rate`` of its atoms' elements set to 0, and those
        atoms [N]."""
        picked = pick_atoms(key, g, self.rate)
        return g._replace(species=jnp.where(picked, 0, g.species)), picked

    def elements(self, g: GraphBatch) -> Int[Array, " N"]:
        """Atomic numbers, the classes predicted."""
        return g.species


class CrystalDenoisingNet(CrystalEncoderNet):
    """A crystal encoder and an atom-wise scalar whose position gradient is
    the predicted noise (in units of ``sigma``)."""

    out: Dense
    sigma: float = eqx.field(static=True)

    def __call__(
        self, g: GraphBatch, *, key=None, inference: bool = True
    ) -> Float[Array, "N 3"]:
        def energy(positions):
            h = self.atom_states(g._replace(positions=positions))
            return jnp.sum(self.out(h)[:, 0] * g.node_mask)

        return jax.grad(energy)(g.positions)


def masked_crystal_net(config: dict, rate: float, *, key) -> CrystalMaskedAtomNet:
    """Masked-atom network of a crystal encoder config (``rate``: share masked)."""
    c = check_crystal_config(config)
    key, okey = jax.random.split(key)
    return CrystalMaskedAtomNet(
        **encoder_parts(c, key=key),
        out=Dense(c["hidden"], N_ELEMENTS, key=okey),
        rate=float(rate),
    )


def denoising_crystal_net(config: dict, sigma: float, *, key) -> CrystalDenoisingNet:
    """Denoising network of a crystal encoder config (``sigma``: noise in Å)."""
    c = check_crystal_config(config)
    key, okey = jax.random.split(key)
    return CrystalDenoisingNet(
        **encoder_parts(c, key=key),
        out=Dense(c["hidden"], 1, key=okey),
        sigma=float(sigma),
    )


# objective -> (network builder, training loss, scoring sums, default strength)
CRYSTAL_OBJECTIVES = {
    "masked-atoms": (
        masked_crystal_net,
        accuracy_loss(masked_atom_sums),
        masked_atom_sums,
        0.15,
    ),
    "denoise": (denoising_crystal_net, denoising_loss, denoising_sums, 0.1),
}
