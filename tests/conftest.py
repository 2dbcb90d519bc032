import gc
import os
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True, scope="session")
def _feature_cache(tmp_path_factory):
    """Keep the feature cache of the tests out of the user's home."""
    os.environ["MOLMAT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Free the compiled functions of each test module once it is done.

    Every XLA executable keeps memory mappings; the suite compiles thousands
    of functions, which would otherwise exhaust the kernel's per-process map
    limit (vm.max_map_count, 65530 by default) and crash the compiler.
    """
    yield
    import jax

    from molmat.training import engine

    engine._STEPS.clear()
    jax.clear_caches()
    gc.collect()


@pytest.fixture(scope="session")
def tiny_csv() -> Path:
    """20 rows: 15 good, 5 bad (unparsable, empty, NaN, text, valence error)."""
    return DATA / "tiny.csv"


@pytest.fixture(scope="session")
def esol():
    from molmat.data.csv import read_molecules

    return read_molecules("esol")


@pytest.fixture(scope="session")
def small_model(esol):
    """A small D-MPNN fitted briefly on 120 ESOL molecules (shared, read-only)."""
    from molmat import PropertyModel

    idx = np.arange(120)
    return PropertyModel(
        hidden=32,
        ffn_hidden=32,
        epochs=3,
        batch_size=16,
        progress=False,
        val_fraction=0,
    ).fit([esol.smiles[i] for i in idx], esol.y[idx])


SMALL = dict(hidden=32, ffn_hidden=32, batch_size=16, progress=False)


def ethanol_scaling():
    """Energy scaling of a tiny ethanol potential with realistic isolated-atom
    energies: totals near -4.2 keV, where float32 steps are 0.49 meV."""
    from molmat.models.potentials.common import EnergyScaling

    return EnergyScaling(
        species=(1, 6, 8),
        e0s=(-13.568, -1025.277, -2035.571),
        scale=1.07,
        shift=-4.68,
        avg_num_neighbors=8.0,
    )
