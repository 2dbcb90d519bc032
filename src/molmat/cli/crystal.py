"""``molmat crystal``: generate crystal structures and score them."""

from __future__ import annotations

from molmat.cli.config import add_config_option, write_config
from molmat.cli.flow import names
from molmat.cli.output import HelpFormatter, fmt, table

# (flag, CrystalGenerator parameter, type, help)
OPTIONS = [
    (
        "--task",
        "task",
        str,
        "both: one model for de novo generation and structure prediction "
        "(default); csp: compositions always given; denovo: never",
    ),
    ("--hidden", "hidden", int, "width of the denoiser (default 128)"),
    ("--layers", "layers", int, "message rounds of the denoiser (default 4)"),
    (
        "--frequencies",
        "frequencies",
        int,
        "Fourier frequencies of fractional differences (default 16)",
    ),
    (
        "--sampling-steps",
        "sampling_steps",
        int,
        "noise levels (diffusion; default 1000) or Euler steps (flow matching; "
        "default 500)",
    ),
    (
        "--anti-annealing",
        "anti_annealing",
        float,
        "flow matching: scale coordinate velocities by 1 + s t when sampling "
        "(default 0)",
    ),
    (
        "--corrector-step",
        "corrector_step",
        float,
        "diffusion: Langevin corrector step scale (default 1e-5; 0: off)",
    ),
    ("--epochs", "epochs", int, "most training epochs (default 1000)"),
    ("--batch-size", "batch_size", int, "crystals per batch (default 128)"),
    ("--lr", "lr", float, "AdamW learning rate (default 1e-3)"),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay (default 0)"),
    (
        "--patience",
        "patience",
        int,
        "stop after this many epochs without a lower validation loss (default 200)",
    ),
    (
        "--ema-epochs",
        "ema_epochs",
        float,
        "moving average of the weights over about this many epochs (default 10)",
    ),
    ("--seed", "seed", int, "seed of the split, initialisation, batches and noise"),
]
DATA_HELP = (
    "structures: extxyz, CIF, POSCAR, a folder or tar archive of them, or a CSV "
    "with a cif column (CDVAE's perov_5, mp_20, carbon_24 splits: "
    "https://github.com/txie-93/cdvae/tree/main/data)"
)


def add_parser(sub):
    p = sub.add_parser(
        "crystal",
        formatter_class=HelpFormatter,
        description="Crystal structure generation: learn lattices, fractional "
        "coordinates (on the torus) and atom types with a periodic denoiser "
        "(diffusion as in DiffCSP, or flow matching as in FlowMM); generate new "
        "crystals or the structure of a given composition; score them with "
        "CDVAE's metrics beside the published numbers.",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    train = actions.add_parser(
        "train",
        formatter_class=HelpFormatter,
        help="train a crystal generator and write a run folder",
        description="Train on the periodic structures of --data, holding out "
        "--test-fraction of them (written to OUT/test.extxyz). OUT gets model/, "
        "metrics.json, metrics.jsonl, split.json, data_report.json and "
        "learning_curve.png. Bad structures are reported with their reason.",
    )
    train.add_argument("--data", required=True, help=DATA_HELP)
    train.add_argument(
        "--model",
        choices=["diffusion", "flow-matching"],
        default="diffusion",
        help="diffusion: DDPM lattices and types, wrapped-normal coordinates; "
        "flow-matching: straight paths, torus geodesics for coordinates",
    )
    train.add_argument(
        "--test-fraction", type=float, default=0.1, help="structures held out"
    )
    group = train.add_argument_group("generator and training")
    for flag, name, kind, text in OPTIONS:
        group.add_argument(flag, dest=name, type=kind, help=text)
    train.add_argument(
        "--resume", action="store_true", help="continue an interrupted run"
    )
    train.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress"
    )
    train.add_argument("--out", required=True, help="run folder to write")
    add_config_option(train)
    train.set_defaults(action_run=run_train, command_parser=train)

    generate = actions.add_parser(
        "generate",
        formatter_class=HelpFormatter,
        help="sample new crystals, or structures of given compositions",
        description="De novo: -n crystals (their numbers of atoms drawn from the "
        "training set's). Structure prediction: one structure per composition "
        "of --composition, or per structure of --compositions-of (its atoms, in "
        "order: the file to score against with 'molmat crystal evaluate').",
    )
    generate.add_argument("--model", required=True, help="run folder or model archive")
    generate.add_argument("-n", type=int, default=1000, help="crystals to generate")
    generate.add_argument(
        "--composition",
        type=names,
        help="comma-separated formulas of whole cells (SrTiO3; Sr2Ti2O6 for two "
        "formula units)",
    )
    generate.add_argument(
        "--compositions-of", help="structures whose compositions to predict"
    )
    generate.add_argument(
        "--sampling-steps",
        type=int,
        help="override the model's number of sampling steps",
    )
    generate.add_argument("--seed", type=int, default=0, help="sampling seed")
    generate.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress"
    )
    generate.add_argument(
        "--out", required=True, help="file to write: .extxyz or .cif (ASE reads both)"
    )
    generate.set_defaults(action_run=run_generate)

    evaluate = actions.add_parser(
        "evaluate",
        formatter_class=HelpFormatter,
        help="score generated crystals with CDVAE's metrics",
        description="Structure prediction (pairwise against --reference): match "
        "rate and RMSE by pymatgen's StructureMatcher(stol=0.5, angle_tol=10, "
        "ltol=0.3). De novo: structural and compositional (SMACT) validity, "
        "coverage recall/precision, Wasserstein distances of density and number "
        "of elements. Needs the crystal extra: pip install 'molmat[crystal]'.",
    )
    evaluate.add_argument("--generated", required=True, help="structures to score")
    evaluate.add_argument(
        "--reference", required=True, help="reference structures (a test set)"
    )
    evaluate.add_argument(
        "--mode",
        choices=["auto", "csp", "denovo"],
        default="auto",
        help="auto: csp when each generated structure has its reference's atoms",
    )
    evaluate.add_argument(
        "--dataset",
        choices=["perov_5", "mp_20", "carbon_24"],
        default="perov_5",
        help="coverage cut-offs and the published numbers to show",
    )
    evaluate.add_argument("--out", help="JSON file to write the metrics to")
    evaluate.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide progress"
    )
    evaluate.set_defaults(action_run=run_evaluate)
    return p


def run(args) -> int:
    return args.action_run(args)


def run_train(args) -> int:
    from molmat.tasks.crystal_generator_runs import train_crystal_run

    params = {
        n: getattr(args, n) for _, n, _, _ in OPTIONS if getattr(args, n) is not None
    }
    metrics = train_crystal_run(
        args.data,
        args.out,
        test_fraction=args.test_fraction,
        resume=args.resume,
        model=args.model,
        progress=args.progress,
        **params,
    )
    write_config(args.command_parser, args, args.out)
    print(
        table(
            ["", args.out], [[k.replace("_", " "), fmt(v)] for k, v in metrics.items()]
        )
    )
    return 0


def run_generate(args) -> int:
    from molmat.tasks.crystal_generator_runs import generate_crystals

    if args.composition and args.compositions_of:
        raise ValueError("give --composition or --compositions-of, not both")
    found = generate_crystals(
        args.model,
        args.out,
        n=args.n,
        compositions=args.composition,
        compositions_of=args.compositions_of,
        sampling_steps=args.sampling_steps,
        seed=args.seed,
        progress=args.progress,
    )
    print(table(["", ""], [[k.replace("_", " "), fmt(v)] for k, v in found.items()]))
    return 0


def run_evaluate(args) -> int:
    import json

    from molmat.tasks.crystal_generator_runs import evaluate_crystals

    found = evaluate_crystals(
        args.generated, args.reference, args.mode, args.dataset, args.progress
    )
    print(table(*summary_rows(found)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(found, f, indent=2)
        print(f"-> {args.out}")
    return 0


CSP_COLUMNS = ("match_rate", "rmse")
DENOVO_COLUMNS = (
    "structure_validity",
    "composition_validity",
    "cov_recall",
    "cov_precision",
    "wdist_density",
    "wdist_n_elements",
)


def summary_rows(found: dict) -> tuple[list[str], list[list[str]]]:
    """The metrics of ``found`` as one row, with a row per published model."""
    columns = CSP_COLUMNS if found["mode"] == "csp" else DENOVO_COLUMNS
    rows = [["molmat (this run)", *(fmt(found.get(c, float("nan"))) for c in columns)]]
    for model, values in found["published"].items():
        rows.append([f"{model} (published)", *(fmt(v) for v in values)])
    header = [
        f"{found['dataset']} {found['mode']}",
        *(c.replace("_", " ") for c in columns),
    ]
    return header, rows
