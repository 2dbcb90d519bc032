"""``molmat pretrain``: self-supervised pretraining of a graph, sequence or
crystal encoder."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, table
from molmat.featurizers.tokens import TOKENIZERS
from molmat.models.crystal import CRYSTAL_MODELS
from molmat.models.crystal.pretrain import CRYSTAL_OBJECTIVES
from molmat.models.sequence import ENCODERS
from molmat.tasks.crystal_pretrain import pretrain_crystals
from molmat.tasks.pretrain import (
    GRAPH_LAYERS,
    OBJECTIVES,
    pretrain_graphs,
    pretrain_sequences,
)


def add_parser(sub):
    p = sub.add_parser(
        "pretrain",
        formatter_class=HelpFormatter,
        description="Pretrain an encoder on unlabelled molecules or sequences, "
        "then fine-tune it with `molmat train --init OUT`. Graph encoders (gin, "
        "gcn, gat, mpnn, attentivefp) learn by attribute masking (Hu et al. "
        "2020: the features of 15%% of the atoms are blanked and their elements "
        "predicted); the corpus is cut into shards of --shard-size molecules, "
        "one per epoch, featurised and cached shard by shard. Sequence encoders "
        "(transformer, cnn1d, gru on --tokens) learn masked tokens (15%% of the "
        "tokens masked, replaced or kept, and predicted back) in epochs of "
        "--epoch-size strings. Crystal encoders (cgcnn, painn, nequip, alignn) "
        "learn from periodic structures (a folder or tar archive of CIFs, such "
        "as the CoRE MOF set, or an extxyz file) by masked atoms or coordinate "
        "denoising, one shard of --shard-size structures per epoch. A "
        "checkpoint follows every epoch (--resume "
        "continues a killed run exactly). Writes OUT/model (the encoder), "
        "metrics.jsonl, metrics.json, pretraining_curve.png and "
        "data_report.json (everything left out).",
    )
    p.add_argument(
        "--data",
        required=True,
        help="moses (MOSES train: pip install --no-deps molsets, or "
        "MOLMAT_MOSES_DIR), a SMILES file (CSV/TSV/.smi/SDF), a file of "
        "amino-acid sequences with --tokens aa, or (crystal encoders) a folder "
        "or tar archive of CIF/POSCAR/extxyz files or an extxyz file",
    )
    p.add_argument("--column", help="SMILES or sequence column (detected if omitted)")
    p.add_argument(
        "--model",
        choices=[*GRAPH_LAYERS, "schnet", *ENCODERS, *CRYSTAL_MODELS],
        default="transformer",
        help="graph encoders: gin, gcn, gat, mpnn, attentivefp, schnet (3D, "
        "--objective denoise); sequence encoders: transformer, cnn1d, gru; "
        "crystal encoders: cgcnn, painn, nequip, alignn",
    )
    p.add_argument(
        "--tokens", choices=list(TOKENIZERS), default="smiles", help="token kind"
    )
    p.add_argument(
        "--objective",
        choices=[*OBJECTIVES, *(o for o in CRYSTAL_OBJECTIVES if o not in OBJECTIVES)],
        default="masking",
        help="masking: masked atoms (graphs) or masked tokens (sequences); "
        "contrastive (graphs): MolCLR's NT-Xent between two views of each "
        "molecule with atoms blanked and bonds deleted; denoise (schnet, on "
        "one ETKDG conformer per molecule): predict the Gaussian noise added "
        "to the positions; context (graphs): a centre atom's neighbourhood "
        "tells its own context (atoms depth-1 to depth+2 bonds away) from "
        "another molecule's; crystal encoders: masked-atoms (the elements of "
        "15%% of the atoms are hidden and predicted) or denoise (Gaussian "
        "noise on the positions, predicted back)",
    )
    p.add_argument("--embed", type=int, default=64, help="token embedding width")
    p.add_argument(
        "--hidden",
        type=int,
        help="encoder width (default: 300 graph, 256 sequence, 64 crystal)",
    )
    p.add_argument(
        "--depth",
        type=int,
        help="encoder layers (default: 5 graph, 4 sequence, 3 crystal)",
    )
    p.add_argument(
        "--cutoff",
        type=float,
        default=5.0,
        help="crystal encoders: neighbour radius (Å)",
    )
    p.add_argument(
        "--norm",
        choices=["batch", "layer", "none"],
        default="batch",
        help="normalisation in a graph encoder",
    )
    p.add_argument(
        "--shard-size",
        type=int,
        help="graph and crystal encoders: molecules (default 50,000) or "
        "structures (default 2,000) per shard, one shard per epoch",
    )
    p.add_argument("--heads", type=int, default=8, help="attention heads")
    p.add_argument("--kernel", type=int, default=5, help="cnn1d kernel width")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout rate")
    p.add_argument(
        "--mask-rate",
        type=float,
        help="share of tokens or atoms picked (and of bonds deleted, "
        "contrastive); default 0.15, contrastive 0.25",
    )
    p.add_argument(
        "--noise",
        type=float,
        help="denoise: standard deviation of the position noise in Å (default 0.1)",
    )
    p.add_argument(
        "--epochs",
        type=int,
        help="most epochs (default: one pass over the shards for graph "
        "encoders, 1000 for sequence encoders)",
    )
    p.add_argument(
        "--epoch-size",
        type=int,
        default=100_000,
        help="sequence encoders: strings per epoch (0: one pass over the corpus)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        help="molecules or strings per step (default 128); structures (default 8)",
    )
    p.add_argument("--lr", type=float, default=5e-4, help="peak learning rate")
    p.add_argument(
        "--time-limit", type=float, metavar="MIN", help="stop after MIN minutes"
    )
    p.add_argument(
        "--max-tokens",
        type=int,
        default=200,
        help="longer strings are reported and left out",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of masks and init")
    p.add_argument("--resume", action="store_true", help="continue from OUT")
    p.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no bar"
    )
    p.add_argument("--out", required=True, help="run folder to write")
    return p


def run(args) -> int:
    if args.model in CRYSTAL_MODELS:
        summary, items = _crystals(args), "structures"
    elif args.model in (*GRAPH_LAYERS, "schnet"):
        summary, items = _graphs(args), "molecules"
    else:
        summary, items = _sequences(args), "molecules"
    shown = [
        (f"{items} used", f"{summary['n_used']:,} of {summary['n_read']:,}"),
        ("train / validation", f"{summary['n_train']:,} / {summary['n_val']:,}"),
        ("epochs", summary["epochs_run"]),
        ("passes over the corpus", f"{summary['passes']:.2f}"),
        (f"{items}/s", f"{summary[f'{items}_per_second']:.1f}"),
        ("validation loss", summary["val_loss"]),
    ]
    for score in ("accuracy", "explained_variance"):
        if f"val_{score}" in summary:
            shown.append(
                (f"validation {score.replace('_', ' ')}", summary[f"val_{score}"])
            )
    print(table(["", "value"], [[k, v] for k, v in shown]))
    print(f"\nencoder: {args.out}/model (fine-tune: molmat train --init {args.out})")
    return 0


def _graphs(args) -> dict:
    return pretrain_graphs(
        args.data,
        args.out,
        model=args.model,
        objective=args.objective,
        column=args.column,
        hidden=args.hidden or 300,
        depth=args.depth or 5,
        norm=args.norm,
        dropout=args.dropout,
        strength=args.mask_rate if args.objective != "denoise" else args.noise,
        shard_size=args.shard_size or 50_000,
        epochs=args.epochs,
        batch_size=args.batch_size or 128,
        lr=args.lr,
        time_limit=args.time_limit,
        seed=args.seed,
        resume=args.resume,
        progress=args.progress,
    )


def _crystals(args) -> dict:
    if args.objective not in CRYSTAL_OBJECTIVES:
        raise ValueError(
            f"crystal encoders learn by {' or '.join(CRYSTAL_OBJECTIVES)}, not "
            f"{args.objective}"
        )
    return pretrain_crystals(
        args.data,
        args.out,
        model=args.model,
        objective=args.objective,
        hidden=args.hidden or 64,
        depth=args.depth or 3,
        cutoff=args.cutoff,
        strength=args.noise if args.objective == "denoise" else args.mask_rate,
        shard_size=args.shard_size or 2000,
        epochs=args.epochs,
        batch_size=args.batch_size or 8,
        lr=args.lr,
        time_limit=args.time_limit,
        seed=args.seed,
        resume=args.resume,
        progress=args.progress,
    )


def _sequences(args) -> dict:
    if args.objective != "masking":
        raise ValueError(
            f"sequence encoders learn by masking; {args.objective} is for graph "
            f"encoders ({', '.join(GRAPH_LAYERS)})"
        )
    return pretrain_sequences(
        args.data,
        args.out,
        model=args.model,
        tokens=args.tokens,
        column=args.column,
        embed=args.embed,
        hidden=args.hidden or 256,
        depth=args.depth or 4,
        heads=args.heads,
        kernel=args.kernel,
        dropout=args.dropout,
        mask_rate=args.mask_rate or 0.15,
        epochs=args.epochs or 1000,
        epoch_size=args.epoch_size or None,
        batch_size=args.batch_size or 128,
        lr=args.lr,
        time_limit=args.time_limit,
        max_tokens=args.max_tokens,
        seed=args.seed,
        resume=args.resume,
        progress=args.progress,
    )
