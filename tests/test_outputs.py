"""Console output: summary tables, progress bars beside log lines, warnings."""

import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from sklearn.exceptions import ConvergenceWarning

import molmat
from molmat.classic.chemspace import kmeans
from molmat.cli.output import comparison_table, setup_logging
from molmat.data.console import progress_bar, reported_warnings
from molmat.featurizers import descriptors


@pytest.fixture
def molmat_logger():
    """The ``molmat`` logger, reaching caplog; its set-up restored afterwards."""
    logger = logging.getLogger("molmat")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.propagate = True  # a CLI test before may have turned it off
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved


def summary(runs: int, seeds: list[int]) -> dict:
    row = {
        "model": "rf",
        "runs": runs,
        "rmse": (0.71234, 0.05),
        "r2": (0.8, 0.01),
        "fit_seconds": (2.0, 0.5),
    }
    return {"metrics": ["rmse", "r2"], "seeds": seeds, "rows": [row]}


def test_single_seed_table_prints_values_without_spread():
    text = comparison_table(summary(1, [0]))
    assert "±" not in text
    assert "test metrics, seed 0" in text
    assert re.search(r"rf\s+1\s+0\.7123\s+0\.8000\s+2\.0000", text)


def test_several_seeds_table_prints_mean_and_std():
    text = comparison_table(summary(3, [0, 1, 2]))
    assert "mean ± std over seeds 0,1,2" in text
    assert "0.7123 ± 0.0500" in text


def test_log_lines_leave_an_active_progress_bar_intact(capsys, molmat_logger):
    setup_logging(0)
    bar = progress_bar(range(10), "crunching", enabled=True)
    for i in bar:
        if i == 3:
            molmat_logger.info("halfway there")
    err = capsys.readouterr().err
    # the line stands alone: the bar was cleared before it and redrawn after
    assert "I halfway there" in re.split(r"[\r\n]", err)
    assert "crunching: 100%" in err


def test_bars_show_when_output_is_not_a_terminal(capsys, monkeypatch):
    """Featurising many molecules shows its bar in notebooks and logs too."""
    monkeypatch.setattr(descriptors, "PROGRESS_FROM", 2)
    mols = [Chem.MolFromSmiles(s) for s in ("CCO", "c1ccccc1", "CC(=O)O")]
    descriptors.molecule_descriptors(mols, "physchem")
    assert "physchem features: 100%" in capsys.readouterr().err


def test_every_progress_bar_goes_through_progress_bar():
    package = Path(molmat.__file__).parent
    imports_tqdm = re.compile(r"^\s*(from|import) tqdm", re.MULTILINE)
    users = [
        p.relative_to(package).as_posix()
        for p in package.rglob("*.py")
        if imports_tqdm.search(p.read_text()) and p.name != "console.py"
    ]
    assert users == []


def test_reported_warnings_logs_each_once_and_leaks_none(caplog, molmat_logger):
    filters = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked warning would raise here
        with caplog.at_level(logging.WARNING, "molmat"):
            for _ in range(3):
                with reported_warnings("lasso on physchem, logS (test)"):
                    warnings.warn(
                        "Objective did not converge.", ConvergenceWarning, stacklevel=1
                    )
                    np.log(np.zeros(2))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("lasso on physchem, logS (test): Objective did not")
    assert "ConvergenceWarning: the fit did not converge cleanly" in lines[0]
    assert "divide by zero" in lines[1] and "RuntimeWarning" in lines[1]
    assert warnings.filters == filters  # the user's filters are untouched


def test_other_warnings_pass_through_to_the_user():
    with pytest.warns(DeprecationWarning, match="old option"), reported_warnings("fit"):
        warnings.warn("old option", DeprecationWarning, stacklevel=1)


def test_kmeans_on_duplicates_reports_instead_of_warning(caplog, molmat_logger):
    x = np.repeat(np.eye(5), 3, axis=0)  # 15 points, 5 distinct
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING, "molmat"):
            clusters = kmeans(x, k=7, seed=0, k_max=7)
    assert clusters.k == 7
    assert any(
        "k-means with k = 7" in r.getMessage() and "fewer distinct" in r.getMessage()
        for r in caplog.records
    )


def test_descriptors_beyond_float32_are_missing_and_reported(caplog, molmat_logger):
    # an AqSolDB pigment mixture with a long chain: its Ipc (~1e39) exceeds float32
    big = Chem.MolFromSmiles(
        "COc1ccc(NC(=O)C(N=Nc2ccc(cc2Cl)c3ccc(N=NC(C(C)=O)C(=O)Nc4ccccc4)c(Cl)c3)"
        "C(C)=O)cc1.CC(=O)C(N=Nc9ccc(cc9Cl)c%10ccc(N=NC(C(C)=O)C(=O)Nc%11ccccc%11)"
        "c(Cl)c%10)C(=O)Nc%12ccccc%12.CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the float32 cast used to overflow here
        with caplog.at_level(logging.WARNING, "molmat"):
            x = descriptors.molecule_descriptors([big], "rdkit2d")
    ipc = descriptors.feature_names("rdkit2d").index("Ipc")
    assert np.isnan(x[0, ipc])
    assert np.isfinite(x[0, descriptors.feature_names("rdkit2d").index("MolWt")])
    assert any("Ipc exceed the float32 range" in r.getMessage() for r in caplog.records)
