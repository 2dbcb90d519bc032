"""Explain predictions: attributions on atoms and tokens, and counterfactuals.

- :func:`integrated_gradients`, :func:`gradient_x_input`, :func:`smoothgrad`
  and :func:`shapley_values`: per-atom (graph models) or per-token
  (sequence models) attributions; Shapley values on feature columns, mapped
  back to atoms, for descriptor and fingerprint models.
- :func:`counterfactuals`: the closest STONED neighbours whose prediction
  changes.
- :func:`energy_attributions`: atomic energies and force contributions of
  a potential.
- :mod:`molmat.explain.draw`: similarity maps, token bars and grids.
"""

from molmat.explain.attributions import (
    METHODS,
    explain,
    gradient_x_input,
    integrated_gradients,
    shapley_values,
    smoothgrad,
)
from molmat.explain.counterfactual import (
    Counterfactuals,
    counterfactuals,
    neighbourhood,
)
from molmat.explain.potential import EnergyAttribution, energy_attributions
from molmat.explain.record import Attribution
from molmat.explain.shapley import ShapleyReport, exact_shapley, sampled_shapley

__all__ = [
    "METHODS",
    "Attribution",
    "Counterfactuals",
    "EnergyAttribution",
    "ShapleyReport",
    "counterfactuals",
    "energy_attributions",
    "exact_shapley",
    "explain",
    "gradient_x_input",
    "integrated_gradients",
    "neighbourhood",
    "sampled_shapley",
    "shapley_values",
    "smoothgrad",
]
