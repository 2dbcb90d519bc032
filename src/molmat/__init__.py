"""molmat: deep learning on molecules and materials in JAX.

Example:
    >>> from molmat import PropertyModel, load
    >>> model = PropertyModel(model="mpnn", epochs=50).fit(smiles, y)  # doctest: +SKIP
    >>> model.save("runs/solubility")  # doctest: +SKIP
    >>> load("runs/solubility").predict(["CCO"])  # doctest: +SKIP
"""

__version__ = "0.1.0"

__all__ = ["PotentialModel", "PropertyModel", "load", "__version__"]


def __getattr__(name: str):
    # Imported lazily so that `import molmat` (and light CLI commands) stay fast.
    if name in ("PropertyModel", "load"):
        from molmat.tasks import property as _property

        return getattr(_property, name)
    if name == "PotentialModel":
        from molmat.tasks.potential import PotentialModel

        return PotentialModel
    raise AttributeError(f"module 'molmat' has no attribute {name!r}")
