"""``molmat attention``: draw a sequence transformer's attention for one input."""

from __future__ import annotations

from molmat.cli.output import HelpFormatter
from molmat.tasks.archives import load
from molmat.tasks.sequence import SequenceModel


def add_parser(sub):
    p = sub.add_parser(
        "attention",
        formatter_class=HelpFormatter,
        description="Draw the attention maps of a transformer sequence model "
        "(trained with `molmat train --model transformer --tokens ...`) for one "
        "molecule or sequence: one panel per layer, heads averaged, tokens on "
        "both axes (rows attend to columns).",
    )
    p.add_argument("--model", required=True, help="model archive or run folder")
    p.add_argument(
        "--input",
        required=True,
        help="a SMILES (SMILES/SELFIES models) or an amino-acid sequence",
    )
    p.add_argument("--out", required=True, help="picture to write (.png or .svg)")
    return p


def run(args) -> int:
    model = load(args.model)
    if not isinstance(model, SequenceModel):
        raise ValueError(f"{args.model}: not a sequence model")
    path = model.attention_plot(args.input, args.out)
    print(f"attention maps of {args.input} -> {path}")
    return 0
