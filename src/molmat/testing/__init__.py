"""Reusable checks for models: run them on your own potentials and property models.

Example:
    >>> from molmat.testing import check_potential, check_property_model
    >>> check_potential(model, molecule, crystal)  # doctest: +SKIP
    >>> check_property_model(property_model, ["CCO", "[Na+].[Cl-]"])  # doctest: +SKIP
"""

from molmat.testing.crystal import check_crystal_model
from molmat.testing.potentials import (
    assert_batch_consistent,
    assert_calculator_forces_match_finite_differences,
    assert_e3_equivariant,
    assert_float32_matches_float64,
    assert_forces_match_finite_differences,
    assert_stress_matches_finite_differences,
    assert_supercell_extensive,
    check_potential,
)
from molmat.testing.property import (
    assert_atom_order_invariant,
    assert_batch_matches_single,
    assert_padding_invariant,
    check_property_model,
)

__all__ = [
    "assert_atom_order_invariant",
    "assert_batch_consistent",
    "assert_batch_matches_single",
    "assert_calculator_forces_match_finite_differences",
    "assert_e3_equivariant",
    "assert_float32_matches_float64",
    "assert_forces_match_finite_differences",
    "assert_padding_invariant",
    "assert_stress_matches_finite_differences",
    "assert_supercell_extensive",
    "check_crystal_model",
    "check_potential",
    "check_property_model",
]
