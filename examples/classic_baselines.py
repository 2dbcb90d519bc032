"""Random forest and Gaussian process baselines on fingerprints, on the same split.

python examples/classic_baselines.py           # full ESOL
python examples/classic_baselines.py --quick   # 150 molecules
"""

from __future__ import annotations

import argparse

import numpy as np

from molmat.data.csv import read_molecules
from molmat.tasks.classic import ClassicModel


def main(argv: list[str] | None = None) -> dict:
    """Run the example; returns the test RMSEs (rf, gp, the training mean) and the
    GP's 90% interval coverage."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny settings that run in seconds"
    )
    args = parser.parse_args(argv)

    table = read_molecules("esol")
    smiles, y = list(table.smiles), table.y[:, 0]  # log10(mol/L)
    if args.quick:
        smiles, y = smiles[:150], y[:150]
    order = np.random.default_rng(0).permutation(len(smiles))
    n_test = len(smiles) // 5
    test, train = order[:n_test], order[n_test:]
    train_smiles, test_smiles = [smiles[i] for i in train], [smiles[i] for i in test]

    mean_rmse = float(np.sqrt(np.mean((y[train].mean() - y[test]) ** 2)))
    results = {"mean": mean_rmse}
    print(f"predicting the training mean: test RMSE {mean_rmse:.3f} log units")
    # rf: 500 trees on 2048-bit Morgan bits; gp: MinMax kernel on fragprints
    for name, features in (("rf", "morgan"), ("gp", "fragprints")):
        model = ClassicModel(model=name, features=features).fit(train_smiles, y[train])
        rmse = float(np.sqrt(np.mean((model.predict(test_smiles) - y[test]) ** 2)))
        results[name] = rmse
        print(f"{name} on {features}: test RMSE {rmse:.3f} log units")

    mean, std = model.predict_with_std(test_smiles)  # GP mean and σ, [n_test, 1]
    inside = np.abs(y[test] - mean[:, 0]) <= 1.645 * std[:, 0]
    results["gp_coverage_90"] = float(inside.mean())
    print(f"gp 90% intervals cover {inside.mean():.0%} of the test molecules")
    return results


if __name__ == "__main__":
    main()
