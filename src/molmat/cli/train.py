"""``molmat train``: train a property model on a CSV and write a run folder."""

from __future__ import annotations

import argparse

from molmat.cli.output import metrics_table, table
from molmat.tasks.property import PropertyModel
from molmat.tasks.runs import SPLITS, train_run

DEFAULTS = PropertyModel().get_params()  # the CLI and the Python API agree


def add_parser(sub):
    p = sub.add_parser(
        "train",
        help="train a property model",
        description="Train a graph neural network on a CSV of SMILES and write a run "
        "folder: model/ (archive), split.json, metrics.json, metrics.jsonl, "
        "data_report.json, test_predictions.csv, parity/ROC and learning-curve PNGs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = p.add_argument_group("data")
    data.add_argument(
        "--data",
        required=True,
        help="CSV file, or a bundled dataset name (see `molmat datasets`)",
    )
    data.add_argument("--smiles-col", help="SMILES column (detected when omitted)")
    data.add_argument(
        "--target",
        action="append",
        dest="targets",
        metavar="COLUMN",
        help="target column; repeat for a multitask model (missing labels are "
        "masked). Default: the dataset's target, or the only numeric column",
    )
    data.add_argument(
        "--task",
        choices=["auto", "regression", "classification"],
        default="auto",
        help="auto: classification when all labels are 0/1",
    )
    data.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad row instead of skipping and reporting it",
    )
    split = p.add_argument_group("split")
    split.add_argument(
        "--split",
        choices=SPLITS,
        default="scaffold",
        help="80/10/10 random or Bemis-Murcko scaffold split (largest scaffolds "
        "to train), or k-fold cross-validation",
    )
    split.add_argument("--folds", type=int, default=5, help="folds for --split kfold")
    split.add_argument(
        "--split-file",
        help='JSON with "train", "val", "test" lists of 0-based CSV rows (header '
        "excluded); overrides --split",
    )
    model = p.add_argument_group("model")
    model.add_argument(
        "--model",
        choices=["mpnn", "gcn"],
        default=DEFAULTS["model"],
        help="mpnn: directed message passing (D-MPNN); gcn: graph convolutions",
    )
    model.add_argument(
        "--hidden", type=int, default=DEFAULTS["hidden"], help="message-passing width"
    )
    model.add_argument(
        "--depth", type=int, default=DEFAULTS["depth"], help="message-passing steps"
    )
    model.add_argument(
        "--ffn-hidden", type=int, default=DEFAULTS["ffn_hidden"], help="MLP head width"
    )
    model.add_argument(
        "--ffn-layers",
        type=int,
        default=DEFAULTS["ffn_layers"],
        help="MLP head hidden layers",
    )
    model.add_argument(
        "--dropout", type=float, default=DEFAULTS["dropout"], help="dropout rate"
    )
    model.add_argument(
        "--readout",
        choices=["sum", "mean"],
        default=DEFAULTS["readout"],
        help="sum for extensive properties, mean for intensive ones",
    )
    model.add_argument(
        "--class-weight",
        choices=["balanced"],
        default=None,
        help="weight positives by n_negative/n_positive (classification)",
    )
    opt = p.add_argument_group("training")
    opt.add_argument(
        "--epochs", type=int, default=DEFAULTS["epochs"], help="training epochs"
    )
    opt.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULTS["batch_size"],
        help="molecules per batch",
    )
    opt.add_argument(
        "--lr", type=float, default=DEFAULTS["max_lr"], help="peak learning rate"
    )
    opt.add_argument(
        "--patience",
        type=int,
        default=DEFAULTS["patience"],
        help="stop after this many epochs without a better validation metric "
        "(default: train all epochs; the best epoch is kept either way)",
    )
    opt.add_argument("--seed", type=int, default=0, help="seed of split and training")
    opt.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUT/checkpoint with the same settings",
    )
    opt.add_argument(
        "--no-cache", action="store_true", help="do not cache featurised molecules"
    )
    opt.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--out", required=True, help="run folder to write")
    return p


def run(args) -> int:
    result = train_run(
        args.data,
        args.out,
        smiles_col=args.smiles_col,
        targets=args.targets,
        split=args.split,
        split_file=args.split_file,
        folds=args.folds,
        seed=args.seed,
        resume=args.resume,
        strict=args.strict,
        model=args.model,
        hidden=args.hidden,
        depth=args.depth,
        ffn_hidden=args.ffn_hidden,
        ffn_layers=args.ffn_layers,
        dropout=args.dropout,
        readout=args.readout,
        task=args.task,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_lr=args.lr,
        patience=args.patience,
        class_weight=args.class_weight,
        use_cache=not args.no_cache,
        progress=not args.no_progress,
    )
    runs = result["runs"]
    first = runs[0]
    print()
    print(
        f"{first['data']}: {first['model']} {first['task']}, split "
        f"{args.split_file or args.split}, seed {args.seed}"
    )
    if len(runs) == 1 and "test" in first:
        print(
            f"test set ({first['split_sizes']['test']} molecules), best epoch "
            f"{first['best_epoch']}, {first['fit_seconds']:.1f} s, "
            f"{first['compilations']} compilations"
        )
        print(metrics_table(first["test"]))
    elif result["summary"]:
        print(f"{len(runs)}-fold cross-validation, test metrics mean ± std")
        print(
            table(["metric", "value"], [[k, v] for k, v in result["summary"].items()])
        )
    print(f"\nrun folder: {args.out}")
    return 0
