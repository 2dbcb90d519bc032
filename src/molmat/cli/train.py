"""``molmat train``: train a property model on a CSV and write a run folder."""

from __future__ import annotations

import argparse

from molmat.classic.intervals import INTERVAL_METHODS
from molmat.cli.config import ExtendAction, add_config_option, write_config
from molmat.cli.output import (
    HelpFormatter,
    add_no_cache,
    comparison_table,
    metrics_table,
    table,
)
from molmat.cli.potential import (
    LR_SCHEDULE_HELP,
    add_qm9_options,
    qm9_data,
    train_qm9,
)
from molmat.cli.predict import add_sep
from molmat.data.qm9 import TARGETS as QM9_TARGETS
from molmat.featurizers.composition import COMPOSITION_SETS
from molmat.featurizers.descriptors import FEATURE_SETS
from molmat.featurizers.structure import STRUCTURE_SETS
from molmat.featurizers.tokens import TOKENIZERS
from molmat.models.gnn.config import is_architecture_file
from molmat.models.potentials.registry import POTENTIALS
from molmat.models.sequence import POOLS
from molmat.nn.readout import READOUTS
from molmat.tasks.classic import ClassicModel
from molmat.tasks.compare import compare_models
from molmat.tasks.crystal import CrystalModel
from molmat.tasks.learning_curve import learning_curve_run
from molmat.tasks.property import PropertyModel
from molmat.tasks.runs import MODELS, SPLITS, train_run
from molmat.tasks.sequence import SequenceModel
from molmat.training.losses import REGRESSION_LOSSES
from molmat.training.metrics import SELECT_BY
from molmat.training.potential import LR_SCHEDULES

# The CLI and the Python API agree; graph-network defaults win for shared names.
DEFAULTS = {
    **ClassicModel().get_params(),
    **CrystalModel().get_params(),
    **SequenceModel().get_params(),
    **PropertyModel().get_params(),
}


def select_by_choice(text: str) -> str:
    """``metric`` or ``loss`` (argparse type)."""
    if text not in SELECT_BY:
        raise argparse.ArgumentTypeError(f"choose {' or '.join(SELECT_BY)}")
    return text


def loss_choice(text: str) -> str:
    """A regression loss name (argparse type)."""
    if text not in REGRESSION_LOSSES:
        raise argparse.ArgumentTypeError(f"choose {' or '.join(REGRESSION_LOSSES)}")
    return text


# (flag, PropertyModel parameter, type, help); defaults come from PropertyModel.
MODEL_OPTIONS = [
    (
        "--radius",
        "radius",
        int,
        "Morgan fingerprint radius (2 = ECFP4; classic models)",
    ),
    ("--n-bits", "n_bits", int, "Morgan fingerprint length (classic models)"),
    ("--hidden", "hidden", int, "message-passing or sequence-encoder width"),
    ("--depth", "depth", int, "message-passing steps or sequence-encoder layers"),
    ("--ffn-hidden", "ffn_hidden", int, "MLP head width"),
    ("--ffn-layers", "ffn_layers", int, "MLP head hidden layers"),
    ("--dropout", "dropout", float, "dropout rate"),
    ("--embed", "embed", int, "token embedding width (sequence models)"),
    ("--heads", "heads", int, "attention heads (sequence transformer)"),
    ("--kernel", "kernel", int, "convolution width in tokens (cnn1d)"),
    (
        "--n-basis",
        "n_basis",
        int,
        "radial basis functions per distance (crystal networks)",
    ),
    (
        "--loss",
        "loss",
        loss_choice,
        "regression loss of crystal networks: mse, or l1 (the mean absolute "
        "error, robust to a few extreme labels)",
    ),
    (
        "--lmax",
        "lmax",
        int,
        "highest rotation order of nequip's features (crystal networks)",
    ),
    (
        "--angle-cutoff",
        "angle_cutoff",
        float,
        "alignn: pairs shorter than this many Å are the bonds that meet at angles",
    ),
]
TRAINING_OPTIONS = [
    ("--epochs", "epochs", int, "training epochs"),
    ("--batch-size", "batch_size", int, "molecules per batch"),
    ("--lr", "max_lr", float, "peak learning rate (after warm-up)"),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay"),
    (
        "--patience",
        "patience",
        int,
        "stop after this many epochs without a better validation metric, keeping "
        "the best epoch: graph networks (0 runs all epochs) and the MLP (its "
        "default: 30)",
    ),
    (
        "--select-by",
        "select_by",
        select_by_choice,
        "what picks the best epoch of a neural model: metric (RMSE, or ROC-AUC "
        "for classification) or loss (validation log-loss for classification: "
        "steadier than ROC-AUC on a small validation set)",
    ),
]


MODEL_HELP = (
    "graph networks: mpnn (directed message passing, D-MPNN), gcn, gin (GINE), gat "
    "(graph attention), attentivefp, transformer (graph transformer), schnet (3D, "
    "on conformers), or a YAML/JSON architecture file (layer, hidden, depth, "
    "readout, norm, residual, dropout, head; see the README); classic "
    "models on --features: rf (random forest), gp (Gaussian process), krr "
    "(kernel ridge), svr (support-vector machine), ridge, lasso, linear, "
    "logistic, mlp (a neural network on the features). Fingerprints use "
    "Tanimoto/MinMax kernels. Sequence models on --tokens: cnn1d (1D "
    "convolutions), gru (bidirectional GRU), transformer (with --tokens; "
    "without it the graph transformer). Crystal networks on periodic structures "
    "(--data an extxyz/CIF/POSCAR file or folder, or a CSV with a cif column): "
    "cgcnn (crystal graph convolutions), painn, nequip (equivariant), alignn "
    "(bond angles over the line graph). With --data qm9: painn, nequip or "
    "schnet potentials on the DFT geometries"
)


def model_names(text: str) -> list[str]:
    """Comma-separated model names (argparse type)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = (*MODELS, *POTENTIALS)
    unknown = [n for n in names if n not in known and not is_architecture_file(n)]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {unknown}; choose from {', '.join(MODELS)} "
            f"(with --data qm9: {', '.join(sorted(POTENTIALS))})"
        )
    return names


def seed_list(text: str) -> list[int]:
    """Comma-separated integer seeds (argparse type)."""
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"seeds must be integers: {text!r}") from err


def add_parser(sub):
    p = sub.add_parser(
        "train",
        description="Train a graph neural network or a classic model on a CSV of "
        "SMILES and write a run folder: model/ (archive), split.json, metrics.json, "
        "metrics.jsonl, data_report.json, test_predictions.csv, parity/ROC/PR/"
        "confusion and learning-curve PNGs. Several models (--model mpnn,rf,gp) "
        "train on the same split into OUT/<model>/ and are summarised side by side.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--model",
        type=model_names,
        default=[DEFAULTS["model"]],
        metavar="NAME[,NAME...]",
        help=MODEL_HELP,
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULTS["seed"], help="seed of split and training"
    )
    add_run_arguments(p)
    add_qm9_arguments(p)
    p.add_argument("--out", required=True, help="run folder to write")
    add_config_option(p)
    p.set_defaults(command_parser=p)
    return p


def add_qm9_arguments(p) -> None:
    """Options of ``molmat train --data qm9``, an alias of ``molmat potential
    train --data qm9`` (3D energy models)."""
    qm9 = p.add_argument_group(
        "QM9 (--data qm9, as `molmat potential train --data qm9`; needs the qm9 "
        "extra; --hidden/--depth set the width and layers of painn, nequip or "
        "schnet; --epochs, --batch-size and --lr default to 1000, 32 and 0.005 here)"
    )
    add_qm9_options(qm9)
    qm9.add_argument(
        "--time-limit",
        type=float,
        metavar="MIN",
        help="stop training each model after this many minutes",
    )
    qm9.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default="plateau",
        help=LR_SCHEDULE_HELP,
    )


def add_run_arguments(p) -> None:
    """Data, split, model and training options shared by train and compare."""
    data = p.add_argument_group("data")
    data.add_argument(
        "--data",
        required=True,
        help="CSV file, or a bundled dataset name (see `molmat datasets`); "
        "structures for crystal networks and --features magpie-structure: an "
        "extxyz, CIF or POSCAR file, a folder or tar archive of them, or a CSV "
        "with a cif column",
    )
    data.add_argument("--smiles-col", help="SMILES column (detected when omitted)")
    data.add_argument(
        "--sequence-col",
        help="column of the sequences a sequence model reads: amino-acid "
        "sequences with --tokens aa (detected when named sequence, seq, peptide "
        "or protein), SMILES otherwise (as --smiles-col)",
    )
    data.add_argument(
        "--composition-col",
        help="column of the chemical formulas a composition model reads "
        "(--features magpie; detected when named composition or formula)",
    )
    add_sep(data)
    data.add_argument(
        "--labels",
        metavar="CSV",
        help="structures (a folder or tar archive of CIF/POSCAR files): a CSV "
        "of their properties whose first column names each file (with or "
        "without its suffix), such as the CoRE MOF table",
    )
    data.add_argument(
        "--target",
        action=ExtendAction,
        nargs="+",
        dest="targets",
        metavar="COLUMN",
        help="target column(s) (--target a b, or --target a --target b); several "
        "train one multitask model (missing labels are masked). Default: the "
        "dataset's target, or the only numeric column",
    )
    data.add_argument(
        "--task",
        choices=["auto", "regression", "classification"],
        default=DEFAULTS["task"],
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
        help="80/10/10 random split; Bemis-Murcko scaffold split, seeded and "
        "balanced as chemprop's scaffold_balanced (scaffold groups larger than half "
        "the validation or test set go to train first, then the others, each in "
        "seeded random order); "
        "scaffold-deterministic (largest scaffold groups to train, whatever the "
        "seed); or kfold: k-fold cross-validation as scikit-learn's (each fold tests "
        "on one fold and trains on the other k-1, 10%% of which are held out, seeded, "
        "for validation); or matbench: Matbench v0.1's five official folds over "
        "the file's rows (KFold, or StratifiedKFold for 0/1 labels, shuffled, "
        "random_state 18012019), 10%% of each training part validating "
        "(none for classic models)",
    )
    split.add_argument("--folds", type=int, default=5, help="folds for --split kfold")
    split.add_argument(
        "--split-file",
        help='JSON with "train", "val", "test" lists of 0-based CSV rows (header '
        "excluded), as molmat's split.json, or chemprop's list of such objects "
        "(one per replicate; each trains a model, as folds); overrides --split",
    )
    model = p.add_argument_group("model")
    model.add_argument(
        "--features",
        choices=(*FEATURE_SETS, *COMPOSITION_SETS, *STRUCTURE_SETS),
        help="features of classic models: Morgan bits/counts, MACCS keys, all RDKit "
        "2D descriptors, 17 physchem descriptors, Mordred (extra) of SMILES; or "
        "magpie: element-property statistics of chemical formulas "
        "(composition-only materials models; see --composition-col); or "
        "magpie-structure: those of a crystal's cell and 9 packing features "
        "(density, volume per atom, packing fraction, neighbour distances, "
        "coordination), with --data an extxyz/CIF/POSCAR file or folder whose "
        "structures hold the --target in their info; crystal networks join "
        "magpie-structure to their readout. Default: morgan for classic models, "
        "none for crystal networks",
    )
    model.add_argument(
        "--readout",
        choices=READOUTS,
        default=DEFAULTS["readout"],
        help="sum for extensive properties; mean, max, attention, set2set or "
        "attentivefp for intensive ones (default: sum; attentivefp for attentivefp; "
        "crystal networks: mean (default), max, or sum)",
    )
    model.add_argument(
        "--cutoff",
        type=float,
        default=5.0,
        help="neighbour radius in Å of crystal networks and of --data qm9 potentials",
    )
    model.add_argument(
        "--conformers",
        type=int,
        default=DEFAULTS["conformers"],
        metavar="N",
        help="embed N RDKit ETKDG conformers per molecule and keep the lowest-energy "
        "one, for 3D models (default: 1 for schnet); molecules that cannot be "
        "embedded are reported and skipped",
    )
    model.add_argument(
        "--mmff",
        action="store_true",
        help="relax the conformers with the MMFF94 force field before choosing",
    )
    model.add_argument(
        "--mol-features",
        choices=[*FEATURE_SETS, "none"],
        default=DEFAULTS["mol_features"] or "none",
        help="whole-molecule features joined to the readout of graph networks, "
        "standardised on the training set (physchem: 17 2D descriptors such as "
        "Crippen logP, TPSA, H-bond donors/acceptors; rdkit2d: all RDKit 2D "
        "descriptors; morgan...: fingerprints; none: the graph alone)",
    )
    model.add_argument(
        "--tokens",
        choices=list(TOKENIZERS),
        help="sequence models (cnn1d, gru, transformer) read tokens: smiles "
        "(atom-level), selfies, or aa (one-letter amino-acid codes of peptides "
        "and proteins; random, kfold or file splits only). Default for cnn1d "
        "and gru: smiles",
    )
    model.add_argument(
        "--pool",
        choices=POOLS,
        help="sequence models: mean or max over the tokens, or cls (the state "
        f"of the leading <bos> token) (default: {DEFAULTS['pool']})",
    )
    model.add_argument(
        "--class-weight",
        choices=["balanced"],
        default=DEFAULTS["class_weight"],
        help="weight positives by n_negative/n_positive (classification)",
    )
    uncertainty = p.add_argument_group("uncertainty (regression)")
    uncertainty.add_argument(
        "--intervals",
        choices=INTERVAL_METHODS,
        help="prediction intervals on the test set with their empirical coverage: "
        "bootstrap (20 refits, out-of-bag residuals), cv+ (10 refits), jackknife+ "
        "(one refit per training molecule), gp (the GP's predictive std)",
    )
    uncertainty.add_argument(
        "--alpha",
        type=float,
        default=0.1,
        help="miscoverage of the intervals (0.1: 90%% intervals)",
    )
    training = p.add_argument_group("training")
    for group, options in ((model, MODEL_OPTIONS), (training, TRAINING_OPTIONS)):
        for flag, name, kind, text in options:
            # None = not given: each kind of model then uses its own default
            shown = "" if DEFAULTS[name] is None else f" (default: {DEFAULTS[name]})"
            group.add_argument(flag, dest=name, type=kind, help=text + shown)
    training.add_argument(
        "--init",
        metavar="PRETRAINED",
        help="start from an encoder pretrained with `molmat pretrain` (its run "
        "folder or model/): a graph encoder for the same graph --model, or a "
        "sequence encoder (its vocabulary, embedding and encoder) for the same "
        "--model and --tokens; its sizes win over --hidden/--depth (and "
        "--embed/--heads/--kernel)",
    )
    training.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="with --init: train only the readout and head on the pretrained encoder",
    )
    training.add_argument(
        "--layer-lr-decay",
        type=float,
        metavar="F",
        help="layer-wise learning rates of the encoder (graph and sequence "
        "networks): the top encoder layer learns at F x --lr, each layer below "
        "at one more factor F "
        f"(default: {DEFAULTS['layer_lr_decay']}, one rate)",
    )
    training.add_argument(
        "--ensemble",
        type=int,
        default=1,
        metavar="N",
        help="train N copies with seeds seed..seed+N-1 (a deep ensemble): predictions "
        "are their mean, the spread (std) is saved as <target>_std and its rank "
        "correlation with the error is reported",
    )
    training.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from OUT/checkpoint with the same settings",
    )
    add_no_cache(training, "; the model keeps to this when it predicts later")
    training.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="hide the progress bar",
    )


def run_params(args) -> dict:
    """:func:`train_run` keyword arguments from parsed options, bar model and seed."""
    skip = {"seed", "model"}
    params = {
        k: getattr(args, k)
        for k in DEFAULTS
        if getattr(args, k, None) is not None and k not in skip
    }
    params["mol_features"] = None if args.mol_features == "none" else args.mol_features
    return dict(
        smiles_col=args.smiles_col,
        sequence_col=args.sequence_col,
        composition_col=args.composition_col,
        labels=args.labels,
        targets=args.targets,
        split=args.split,
        split_file=args.split_file,
        folds=args.folds,
        resume=args.resume,
        strict=args.strict,
        sep=args.sep,
        intervals=args.intervals,
        alpha=args.alpha,
        ensemble=args.ensemble,
        **params,
    )


def qm9_params(args) -> dict:
    """:func:`~molmat.cli.potential.train_qm9` settings from parsed options."""
    (target,) = args.targets or ["U0"]
    given = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.max_lr,
        "channels": args.hidden,
        "layers": args.depth,
        "time_limit": args.time_limit,
        "lr_schedule": args.lr_schedule,
    }
    return dict(
        **qm9_data(args, target),
        cutoff=args.cutoff,
        progress=args.progress,
        **{k: v for k, v in given.items() if v is not None},
    )


def run_qm9(args) -> int:
    """``molmat train --data qm9``: ``molmat potential train --data qm9``."""
    (model,) = args.model
    if model not in POTENTIALS:
        raise ValueError(
            f"QM9 trains 3D potentials: --model {' | '.join(sorted(POTENTIALS))}"
        )
    if args.targets and len(args.targets) > 1:
        raise ValueError(
            f"QM9 trains one target at a time; choose from {list(QM9_TARGETS)}"
        )
    return train_qm9(args.out, model=model, seed=args.seed, **qm9_params(args))


def run(args) -> int:
    """Train, then write the options of the finished run to OUT/config.yaml."""
    code = train_command(args)
    write_config(args.command_parser, args, args.out)
    return code


def run_learning_curve(args) -> int:
    """``molmat train --train-size N,N...``: a learning curve (see
    :func:`~molmat.tasks.learning_curve.learning_curve_run`)."""
    if len(args.model) > 1:
        raise ValueError("a learning curve trains one --model (and its baseline)")
    params = run_params(args)
    for key in (
        "split",
        "split_file",
        "folds",
        "strict",
        "sep",
        "intervals",
        "alpha",
        "ensemble",
        "smiles_col",
        "sequence_col",
        "composition_col",
    ):
        params.pop(key, None)
    points = learning_curve_run(
        args.data,
        args.out,
        sizes=args.train_size,
        model=args.model[0],
        test_size=args.test_size or 1000,
        seed=args.seed,
        column=args.smiles_col or args.sequence_col or args.composition_col,
        **params,
    )
    rows = []
    for p in points:
        for name, scores in p["test"]["per_target"].items():
            metric = "mae" if "mae" in scores else "roc_auc"
            rows.append(
                [name, p["size"], p["variant"], metric, f"{scores[metric]:.4g}"]
            )
    print(table(["target", "labels", "variant", "metric", "test"], rows))
    print(f"\nlearning curves: {args.out}/learning_curve_<target>.png")
    return 0


def train_command(args) -> int:
    if args.data == "qm9":
        return run_qm9(args)
    unusable = [m for m in args.model if m in POTENTIALS and m not in MODELS]
    if unusable:
        raise ValueError(
            f"{', '.join(unusable)}: 3D potentials train on QM9 here (--data qm9) or "
            "on structures with `molmat potential train`"
        )
    if args.train_size:
        return run_learning_curve(args)
    if len(args.model) > 1:
        summary = compare_models(
            args.data, args.out, args.model, [args.seed], **run_params(args)
        )
        print()
        print(comparison_table(summary))
        print(f"\nrun folders: {args.out}/<model>/seed_{args.seed}")
        return 0
    result = train_run(
        args.data, args.out, model=args.model[0], seed=args.seed, **run_params(args)
    )
    runs = result["runs"]
    first = runs[0]
    print()
    print(
        f"{first['data']}: {first['model']} {first['task']}, split "
        f"{args.split_file or args.split}, seed {args.seed}"
    )
    if len(runs) == 1 and "test" in first:
        epochs = (
            f"best epoch {first['best_epoch']} of {first['epochs_run']}, "
            f"{first['compilations']} compilation(s) for {first['size_classes']} "
            "size class(es), "
            if first["epochs_run"]
            else ""
        )
        print(
            f"test set ({first['split_sizes']['test']} molecules), {epochs}"
            f"fit {first['fit_seconds']:.1f} s"
        )
        print(metrics_table(first["test"]))
        if "thresholds" in first:
            chosen = ", ".join(f"{v:.3f}" for v in first["thresholds"].values())
            print(f"decision threshold(s) chosen on validation (best MCC): {chosen}")
        if "ensemble" in first["test"]:
            rho = first["test"]["ensemble"]["spearman_spread_error"]
            print(
                f"ensemble of {first['ensemble']}: Spearman rank correlation of "
                f"spread with |error| {rho:.3f}"
            )
        if "intervals" in first["test"]:
            iv = first["test"]["intervals"]
            print(
                f"{iv['method']} {100 * (1 - iv['alpha']):.0f}% prediction intervals: "
                f"coverage {iv['coverage']:.3f}, mean width {iv['mean_width']:.3f}"
            )
    elif result["summary"]:
        parts = (
            f"{len(runs)} split-file replicates"
            if args.split_file
            else f"{len(runs)}-fold cross-validation"
        )
        print(f"{parts}, test metrics mean ± std")
        print(
            table(["metric", "value"], [[k, v] for k, v in result["summary"].items()])
        )
    print(f"\nrun folder: {args.out}")
    return 0
