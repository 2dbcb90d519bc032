"""``molmat pretrain``: self-supervised pretraining of a sequence encoder."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter, table
from molmat.featurizers.tokens import TOKENIZERS
from molmat.models.sequence import ENCODERS
from molmat.tasks.pretrain import OBJECTIVES, pretrain_sequences


def add_parser(sub):
    p = sub.add_parser(
        "pretrain",
        formatter_class=HelpFormatter,
        description="Pretrain a sequence encoder on unlabelled strings with a "
        "masked-token objective (15%% of the tokens of each string are masked, "
        "replaced or kept, and predicted back), then fine-tune it with `molmat "
        "train --init OUT`. The corpus streams in epochs of --epoch-size strings "
        "with a checkpoint after each (--resume continues a killed run exactly). "
        "Writes OUT/model (the encoder), metrics.jsonl, metrics.json, "
        "pretraining_curve.png and data_report.json (every string left out).",
    )
    p.add_argument(
        "--data",
        required=True,
        help="moses (MOSES train: pip install --no-deps molsets, or "
        "MOLMAT_MOSES_DIR), a SMILES file (CSV/TSV/.smi/SDF), or a file of "
        "amino-acid sequences with --tokens aa",
    )
    p.add_argument("--column", help="SMILES or sequence column (detected if omitted)")
    p.add_argument(
        "--model", choices=ENCODERS, default="transformer", help="the encoder"
    )
    p.add_argument(
        "--tokens", choices=list(TOKENIZERS), default="smiles", help="token kind"
    )
    p.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="masking",
        help="masking: BERT-style masked-token prediction",
    )
    p.add_argument("--embed", type=int, default=64, help="token embedding width")
    p.add_argument("--hidden", type=int, default=256, help="encoder width")
    p.add_argument("--depth", type=int, default=4, help="encoder layers")
    p.add_argument("--heads", type=int, default=8, help="attention heads")
    p.add_argument("--kernel", type=int, default=5, help="cnn1d kernel width")
    p.add_argument("--dropout", type=float, default=0.1, help="dropout rate")
    p.add_argument(
        "--mask-rate", type=float, default=0.15, help="share of tokens picked"
    )
    p.add_argument("--epochs", type=int, default=1000, help="most epochs")
    p.add_argument(
        "--epoch-size",
        type=int,
        default=100_000,
        help="strings per epoch (0: one pass over the corpus)",
    )
    p.add_argument("--batch-size", type=int, default=128, help="strings per step")
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
    summary = pretrain_sequences(
        args.data,
        args.out,
        model=args.model,
        tokens=args.tokens,
        column=args.column,
        embed=args.embed,
        hidden=args.hidden,
        depth=args.depth,
        heads=args.heads,
        kernel=args.kernel,
        dropout=args.dropout,
        mask_rate=args.mask_rate,
        epochs=args.epochs,
        epoch_size=args.epoch_size or None,
        batch_size=args.batch_size,
        lr=args.lr,
        time_limit=args.time_limit,
        max_tokens=args.max_tokens,
        seed=args.seed,
        resume=args.resume,
        progress=args.progress,
    )
    shown = [
        ("strings used", f"{summary['n_used']:,} of {summary['n_read']:,}"),
        ("train / validation", f"{summary['n_train']:,} / {summary['n_val']:,}"),
        ("epochs", summary["epochs_run"]),
        ("passes over the corpus", f"{summary['passes']:.2f}"),
        ("molecules/s", f"{summary['molecules_per_second']:.0f}"),
        ("validation masked-token loss", summary["val_loss"]),
    ]
    print(table(["", "value"], [[k, v] for k, v in shown]))
    print(f"\nencoder: {args.out}/model (fine-tune: molmat train --init {args.out})")
    return 0
