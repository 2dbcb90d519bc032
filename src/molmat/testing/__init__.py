"""Reusable checks for models: run them on your own potentials.

Example:
    >>> from molmat.testing import check_potential
    >>> check_potential(model, molecule, crystal)  # doctest: +SKIP
"""

from molmat.testing.potentials import (
    assert_batch_consistent,
    assert_e3_equivariant,
    assert_forces_match_finite_differences,
    assert_stress_matches_finite_differences,
    assert_supercell_extensive,
    check_potential,
)

__all__ = [
    "assert_batch_consistent",
    "assert_e3_equivariant",
    "assert_forces_match_finite_differences",
    "assert_stress_matches_finite_differences",
    "assert_supercell_extensive",
    "check_potential",
]
