"""molmat: deep learning on molecules and materials in JAX.

Example:
    >>> from molmat import PropertyModel, load
    >>> model = PropertyModel(model="mpnn", epochs=50).fit(smiles, y)  # doctest: +SKIP
    >>> model.save("runs/solubility")  # doctest: +SKIP
    >>> load("runs/solubility").predict(["CCO"])  # doctest: +SKIP
"""

from molmat._version import __version__

__all__ = ["PotentialModel", "PropertyModel", "load", "__version__"]


def __getattr__(name: str):
    # Imported lazily so that `import molmat` (and light CLI commands) stay fast.
    if name == "PropertyModel":
        from molmat.tasks.property import PropertyModel

        return PropertyModel
    if name == "load":
        from molmat.tasks.archives import load

        return load
    if name == "PotentialModel":
        from molmat.tasks.potential import PotentialModel

        return PotentialModel
    raise AttributeError(f"module 'molmat' has no attribute {name!r}")
