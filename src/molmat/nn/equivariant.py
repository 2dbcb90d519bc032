"""Channel-wise tensor products of e3nn irreps as two dense contractions.

NequIP's messages are ``e3nn.tensor_product(x, sh, filter_ir_out=target)``
of sender features ``x`` (every irrep with the same multiplicity C) and the
edge's spherical harmonics ``sh``, regrouped and scaled per path and channel
by radial weights. e3nn builds one small einsum per path and then reorders
the output; here the Clebsch-Gordan coefficients of all paths are stacked
once into one [D_in, D_sh, K] tensor, so the product is ``einsum(sh, cg)``
then one batched matrix product in a channels-last layout [..., K, C];
:meth:`ProductPlan.to_irreps` turns that layout into e3nn's regrouped one.
The two agree to rounding (see tests), so weights trained with either give
the same network. For NequIP (lmax 2, 32 channels, 8 ethanol molecules on 2
CPU cores) energy+forces run about 1.4x faster and compile faster; a training
step, dominated by the double backward pass, gains 5-20%.

Example:
    >>> plan = product_plan("4x0e + 4x1o", "1x0e + 1x1o", "0e + 1o")
    >>> plan.irreps_out
    8x0e+8x1o
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import e3nn_jax as e3nn
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

_NORMALISATION = {
    "component": lambda d1, d2, d_out: np.sqrt(d_out),
    "norm": lambda d1, d2, d_out: np.sqrt(d1 * d2),
    "none": lambda d1, d2, d_out: 1.0,
}


@dataclass(frozen=True, eq=False)
class ProductPlan:
    """The stacked coefficients of one channel-wise tensor product.

    Attributes:
        cg: [D_in, D_sh, K] coefficients of every path, in e3nn's sorted
            output order.
        blocks: ``(start, n_paths, dim)`` in K of each output irrep type.
        channels: the multiplicity C of every input irrep.
        irreps_out: e3nn's regrouped output irreps (C per path).
    """

    cg: np.ndarray
    blocks: tuple[tuple[int, int, int], ...]
    channels: int
    irreps_out: e3nn.Irreps

    @property
    def n_paths(self) -> int:
        return sum(n for _, n, _ in self.blocks)

    def weighted_product(
        self,
        x: Float[Array, "E D_in C"],
        sh: Float[Array, "E D_sh"],
        weights: Float[Array, "E W"],
    ) -> Float[Array, "E K C"]:
        """``(x ⊗ sh)`` with path ``p`` of channel ``c`` scaled by
        ``weights[:, p * C + c]`` (W = n_paths * C, e3nn's irrep order)."""
        per_edge = jnp.einsum("ej,ijk->eki", sh, self.cg.astype(sh.dtype))
        out = jnp.einsum("eki,eic->ekc", per_edge, x)
        e, c = x.shape[0], self.channels
        w = weights.reshape(e, self.n_paths, 1, c)
        blocks, first = [], 0
        for start, paths, dim in self.blocks:
            block = out[:, start : start + paths * dim].reshape(e, paths, dim, c)
            blocks.append((block * w[:, first : first + paths]).reshape(e, -1, c))
            first += paths
        return jnp.concatenate(blocks, axis=1)

    def to_irreps(self, y: Float[Array, "N K C"]) -> e3nn.IrrepsArray:
        """The channel layout as e3nn's regrouped ``irreps_out`` array."""
        n, c = y.shape[0], self.channels
        chunks = [
            jnp.swapaxes(
                y[:, start : start + paths * dim].reshape(n, paths, dim, c), 2, 3
            ).reshape(n, paths * c * dim)
            for start, paths, dim in self.blocks
        ]
        return e3nn.IrrepsArray(self.irreps_out, jnp.concatenate(chunks, axis=-1))


def channel_layout(x: e3nn.IrrepsArray) -> Float[Array, "... D C"]:
    """[..., C x irreps] features as [..., D, C] (D = the dims of one channel)."""
    chunks = [
        jnp.zeros(x.shape[:-1] + (mul, ir.dim), x.dtype) if chunk is None else chunk
        for chunk, (mul, ir) in zip(x.chunks, x.irreps, strict=True)
    ]
    return jnp.swapaxes(jnp.concatenate(chunks, axis=-1), -1, -2)


@functools.cache
def _plan(irreps_in: str, sh_irreps: str, target: str, norm: str) -> ProductPlan:
    irreps_in, sh_irreps = e3nn.Irreps(irreps_in), e3nn.Irreps(sh_irreps)
    target = e3nn.Irreps(target)
    multiplicities = {mul for mul, _ in irreps_in}
    if len(multiplicities) != 1:
        raise ValueError(f"every irrep of {irreps_in} needs the same multiplicity")
    (channels,) = multiplicities
    single = e3nn.Irreps([(1, ir) for _, ir in irreps_in])
    paths = []  # (ir_out, order, coefficients [D_in, D_sh, dim_out])
    for (_, ir1), slice1 in zip(single, single.slices(), strict=True):
        for (_, ir2), slice2 in zip(sh_irreps, sh_irreps.slices(), strict=True):
            for ir_out in ir1 * ir2:
                if ir_out not in target:
                    continue
                cg = e3nn.clebsch_gordan(ir1.l, ir2.l, ir_out.l)
                full = np.zeros((single.dim, sh_irreps.dim, ir_out.dim))
                full[slice1, slice2] = cg * _NORMALISATION[norm](
                    ir1.dim, ir2.dim, ir_out.dim
                )
                paths.append((ir_out, len(paths), full))
    paths.sort(key=lambda p: (p[0], p[1]))  # e3nn's stable sort of the outputs
    groups = [(ir, len(list(g))) for ir, g in itertools.groupby(paths, lambda p: p[0])]
    blocks, start = [], 0
    for ir, n_paths in groups:
        blocks.append((start, n_paths, ir.dim))
        start += n_paths * ir.dim
    cg = np.concatenate([p[2] for p in paths], axis=-1)
    irreps_out = e3nn.Irreps([(n * channels, ir) for ir, n in groups])
    return ProductPlan(cg, tuple(blocks), channels, irreps_out)


def product_plan(irreps_in, sh_irreps, target) -> ProductPlan:
    """The plan of ``e3nn.tensor_product(x, sh, filter_ir_out=target).regroup()``
    for ``x`` with irreps ``irreps_in`` (one multiplicity) and ``sh`` with
    ``sh_irreps`` (multiplicity 1), under e3nn's current irrep normalisation."""
    return _plan(
        str(e3nn.Irreps(irreps_in).regroup()),
        str(e3nn.Irreps(sh_irreps).regroup()),
        str(e3nn.Irreps(target)),
        e3nn.config("irrep_normalization"),
    )
