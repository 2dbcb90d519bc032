"""ASE calculators over molmat potentials."""

from molmat.calculators.ase import MolmatCalculator

__all__ = ["MolmatCalculator"]
