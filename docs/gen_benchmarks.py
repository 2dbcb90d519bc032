"""MkDocs hook: the benchmark tables, generated from ``benchmarks/results/*.jsonl``.

A page line ``<!-- results: NAME -->`` is replaced by the Markdown table
``NAME`` of :data:`TABLES`. Run alone (``python docs/gen_benchmarks.py``) it
prints every table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
MARKER = re.compile(r"^<!-- results: (\w+) -->$", re.MULTILINE)
LATEST = "cpu2_2026-12-07.jsonl"


def read_results(name: str) -> list[dict]:
    """The records of ``benchmarks/results/NAME``, one per line, in file order."""
    path = RESULTS / name
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} line {number}: {err}") from err
    return records


def number(value, digits: int = 3) -> str:
    """A float with ``digits`` decimals, an int with thousands separators."""
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        raise ValueError(f"no results for the table with columns {headers}")
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def columns(records: list[dict], spec: list[tuple[str, Callable[[dict], str]]]):
    """A table with one row per record and one column per ``(header, cell)``."""
    return markdown_table(
        [header for header, _ in spec], [[cell(r) for _, cell in spec] for r in records]
    )


def field(key: str, digits: int = 3) -> Callable[[dict], str]:
    return lambda r: number(r.get(key), digits) if key in r else ""


def property_table() -> str:
    def speed(r):
        text = number(r["mol_per_s"])
        return "~" + text if r.get("mol_per_s_approx") else text

    spec = [
        ("data", lambda r: r["dataset"]),
        ("split", lambda r: r["split"]),
        ("seed", field("seed")),
        ("model", lambda r: r["model"]),
        ("test RMSE", field("test_rmse")),
        ("MAE", field("test_mae")),
        ("R²", field("test_r2")),
        ("train s", field("train_s", 1)),
        ("mol/s", speed),
        ("compilations", field("compilations")),
    ]
    return columns(read_results("property.jsonl"), spec)


def data_name(r: dict) -> str:
    return r["dataset"] + (f" ({r['tasks']} tasks)" if r.get("tasks", 1) > 1 else "")


def pivot(records: list[dict], row_key, col_key, cell, lower_is_better) -> tuple:
    """Rows and columns in first-seen order; the best value of a row in bold."""
    rows: dict[tuple, dict[str, dict]] = {}
    cols: list[str] = []
    for r in records:
        rows.setdefault(row_key(r), {})[col_key(r)] = r
        if col_key(r) not in cols:
            cols.append(col_key(r))
    body = []
    for key, cells in rows.items():
        values = [c["value"] for c in cells.values()]
        best = min(values) if lower_is_better(key) else max(values)
        line = []
        for col in cols:
            r = cells.get(col)
            text = cell(r) if r else "—"
            line.append(f"**{text}**" if r and r["value"] == best else text)
        body.append([*key, *line])
    return cols, body


def metric_name(metric: str) -> str:
    return {"test_rmse": "RMSE", "test_roc_auc": "ROC-AUC"}[metric]


def with_std(r: dict) -> str:
    return number(r["value"]) + (f" ± {number(r['std'])}" if "std" in r else "")


def gnn_zoo_table() -> str:
    records = read_results("gnn_zoo.jsonl")
    cols, body = pivot(
        records,
        lambda r: (
            data_name(r),
            metric_name(r["metric"]),
            r["split"],
            r["seeds"] + (" mean" if r["aggregate"] == "mean" else ""),
        ),
        lambda r: r["model"],
        with_std,
        lambda key: key[1] == "RMSE",
    )
    return markdown_table(["data", "metric", "split", "seeds", *cols], body)


def classic_table() -> str:
    names = {"rf": "RF", "gp": "GP", "krr": "KRR", "mpnn": "D-MPNN"}

    def cell(r):
        text = number(r["value"])
        return text + (f" ({number(r['coverage_90'])})" if "coverage_90" in r else "")

    cols, body = pivot(
        read_results("classic.jsonl"),
        lambda r: (data_name(r), metric_name(r["metric"]), r["split"], str(r["seed"])),
        lambda r: f"{names[r['model']]} / {r['features']}",
        cell,
        lambda key: key[1] == "RMSE",
    )
    cols = [c + " (90% coverage)" if c.startswith("GP") else c for c in cols]
    return markdown_table(["data", "metric", "split", "seed", *cols], body)


def potentials_table() -> str:
    spec = [(k, lambda r, k=k: r[k]) for k in ("measurement", "molmat", "reference")]
    return columns(read_results("potentials.jsonl"), spec)


def latest(select: Callable[[dict], bool]) -> list[dict]:
    """The selected records of the latest measurements, newest commit first
    (records are appended to the file as they are measured)."""
    rows = [r for r in read_results(LATEST) if select(r)]
    order = list(dict.fromkeys(r["commit"] for r in reversed(rows)))
    return sorted(rows, key=lambda r: order.index(r["commit"]))


def esol_latest_table() -> str:
    def version(r):
        if "chemprop_version" in r:
            return f"chemprop {r['chemprop_version']}"
        return f"`{r['commit']}`"

    spec = [
        ("commit", version),
        ("seed", field("seed")),
        ("model", lambda r: "molmat D-MPNN" if r["model"] == "mpnn" else r["model"]),
        ("test RMSE", field("test_rmse")),
        ("MAE", field("test_mae")),
        ("R²", field("test_r2")),
        ("train s", lambda r: number(r.get("train_wall_s", r.get("train_seconds")), 1)),
        ("mol/s", field("molecules_per_second_wall", 0)),
        ("mol/s per epoch", field("mol_per_s_per_epoch", 0)),
    ]
    rows = latest(lambda r: r.get("dataset") == "esol" and "seed" in r)
    order = list(dict.fromkeys(r["commit"] for r in rows))
    rows.sort(key=lambda r: (order.index(r["commit"]), r["model"] != "mpnn"))
    return columns(rows, spec)


def aqsoldb_latest_table() -> str:
    spec = [
        ("commit", lambda r: f"`{r['commit']}`"),
        ("split", lambda r: r["split"]),
        ("model", lambda r: r["model"]),
        ("best epoch", lambda r: f"{r['best_epoch']} of {r['epochs']}"),
        ("test RMSE", field("test_rmse")),
        ("MAE", field("test_mae")),
        ("R²", field("test_r2")),
        ("Spearman", field("test_spearman")),
        ("fit s", field("fit_s", 1)),
        ("compilations", field("compilations")),
    ]
    return columns(latest(lambda r: r.get("dataset") == "aqsoldb"), spec)


def rmd17_latest_table() -> str:
    spec = [
        ("commit", lambda r: f"`{r['commit']}`"),
        ("data", lambda r: r["dataset"]),
        ("minutes", field("time_limit_min", 1)),
        ("epochs", field("epochs")),
        ("E MAE (meV)", field("energy_mae_meV", 2)),
        ("F MAE (meV/Å)", field("forces_mae_meV_per_A", 1)),
        ("F RMSE (meV/Å)", field("forces_rmse_meV_per_A", 1)),
    ]
    return columns(latest(lambda r: r.get("section") == "rmd17"), spec)


def md_latest_table() -> str:
    spec = [
        ("commit", lambda r: f"`{r['commit']}`"),
        ("system", lambda r: r["system"]),
        ("atoms", field("n_atoms")),
        ("JAX steps/s", field("jax_steps_per_s", 1)),
        ("JAX ns/day", field("jax_ns_per_day", 2)),
        ("ASE steps/s", field("ase_steps_per_s", 1)),
        ("JAX / ASE", field("jax_over_ase", 2)),
        ("run", lambda r: r["source"].rsplit("/", 1)[-1].removesuffix(".jsonl")),
    ]
    return columns(latest(lambda r: r.get("section") == "md"), spec)


GENERATION_KEYS = (
    "valid",
    "unique@10000",
    "Novelty",
    "IntDiv",
    "Filters",
    "FCD/Test",
    "SNN/Test",
    "Frag/Test",
    "Scaf/Test",
    "FCD/TestSF",
)


def generation_table() -> str:
    """MOSES metrics of molmat's generators, then the published baselines."""
    from molmat.generate.metrics import PUBLISHED_BASELINES

    records = [
        r for r in read_results("generation.jsonl") if r["benchmark"] == "generation"
    ]
    minutes = {
        (r["model"], r["tokens"]): r["train_minutes"]
        for r in records
        if r.get("phase") == "train"
    }

    def label(r: dict) -> str:
        spent = minutes.get((r["model"], r["tokens"]))
        budget = f", {spent:.0f} min on 2 CPU cores" if spent else ""
        return f"molmat {r['model']} ({r['tokens']}){budget}"

    rows = [
        [label(r)] + [number(r["metrics"].get(k)) for k in GENERATION_KEYS]
        for r in records
        if r.get("phase") == "metrics"
    ]
    rows += [
        [f"MOSES {name} (published)"] + [number(v.get(k)) for k in GENERATION_KEYS]
        for name, v in PUBLISHED_BASELINES.items()
    ]
    return markdown_table(["model", *GENERATION_KEYS], rows)


def fcd_curve_table() -> str:
    records = [
        r for r in read_results("generation.jsonl") if r.get("phase") == "fcd_curve"
    ]
    spec = [
        ("model", lambda r: f"{r['model']} ({r['tokens']})"),
        ("training minutes", field("train_minutes", 0)),
        ("samples", field("n")),
        ("FCD/Test", field("fcd_test")),
    ]
    return columns(records, spec)


def fcd_check_table() -> str:
    records = [
        r for r in read_results("generation.jsonl") if r["benchmark"] == "fcd_moses"
    ]
    spec = [
        ("sets", lambda r: " vs ".join(r["sets"])),
        ("molecules", field("n")),
        ("FCD molmat (JAX)", field("fcd_molmat", 6)),
        ("FCD reference (fcd, PyTorch)", field("fcd_reference", 6)),
        ("absolute difference", lambda r: f"{r['abs_diff']:.1e}"),
    ]
    return columns(records, spec)


def vae_optimize_table() -> str:
    records = [
        r
        for r in read_results("generation.jsonl")
        if r["benchmark"] == "vae_optimize" and r.get("phase") == "optimisation"
    ]
    spec = [
        ("objective", lambda r: r["objective"]),
        ("VAE training molecules", field("n_train")),
        ("objective calls", field("objective_calls")),
        ("best start", field("start_best", 2)),
        ("top-3 scores", lambda r: " / ".join(f"{v:.2f}" for v in r["top3"])),
        ("best molecule", lambda r: f"`{r['top3_smiles'][0]}`"),
    ]
    return columns(records, spec)


def pretraining_table() -> str:
    records = [r for r in read_results("pretrain.jsonl") if r["phase"] == "pretrain"]
    spec = [
        ("encoder", lambda r: f"{r['model']} {r['hidden']}×{r['depth']}"),
        ("objective", lambda r: r["objective"]),
        ("molecules", field("n_train")),
        ("minutes", lambda r: number(r["train_seconds"] / 60, 0)),
        ("molecules seen", field("molecules_seen")),
        ("passes", field("passes", 2)),
        ("mol/s", field("molecules_per_second", 0)),
        ("hours per pass", field("full_pass_hours", 2)),
        ("val loss", field("val_loss")),
        ("val accuracy", field("val_accuracy")),
    ]
    return columns(records, spec)


def mean_std(values: list[float]) -> dict:
    """``value`` (mean) and, over more than one value, ``std`` (sample)."""
    out = {"value": sum(values) / len(values), "n": len(values)}
    if len(values) > 1:
        mean = out["value"]
        out["std"] = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return out


VARIANT_NAMES = {
    "scratch": "GIN from scratch",
    "pretrained": "GIN pretrained",
    "baseline": "RF on Morgan bits",
}


def finetune_table() -> str:
    """Test metric over seeds: from scratch, from the pretrained encoder, RF."""
    groups: dict[tuple, dict[str, list[float]]] = {}
    for r in read_results("pretrain.jsonl"):
        if r["phase"] != "finetune":
            continue
        metric = "test_roc_auc" if "test_roc_auc" in r else "test_rmse"
        key = (r["dataset"], metric_name(metric), r["split"], str(r["train_size"]))
        groups.setdefault(key, {}).setdefault(r["variant"], []).append(r[metric])
    records = [
        {"key": key, "variant": variant, **mean_std(values)}
        for key, variants in groups.items()
        for variant, values in variants.items()
    ]
    cols, body = pivot(
        records,
        lambda r: r["key"],
        lambda r: VARIANT_NAMES[r["variant"]],
        lambda r: with_std(r) + f" ({r['n']})",
        lambda key: key[1] == "RMSE",
    )
    headers = ["data", "metric", "split", "training molecules"]
    return markdown_table([*headers, *cols], body)


def sequences_table() -> str:
    """Accuracy and ROC-AUC over seeds per dataset and model; neural models
    name what picked their best epoch."""
    groups: dict[tuple, list[dict]] = {}
    for r in read_results("sequences.jsonl"):
        model = r["model"]
        if not model.startswith("kmer"):
            model += f", best epoch by {SELECTED_BY[r.get('select_by', 'metric')]}"
        groups.setdefault((r["dataset"], r["split"], model), []).append(r)

    def cell(runs: list[dict], key: str) -> str:
        return with_std(mean_std([r[key] for r in runs]))

    rows = [
        [*key, str(len(runs)), cell(runs, "test_accuracy"), cell(runs, "test_roc_auc")]
        for key, runs in groups.items()
    ]
    headers = ["data", "split", "model", "seeds", "test accuracy", "test ROC-AUC"]
    return markdown_table(headers, rows)


SELECTED_BY = {"metric": "val ROC-AUC", "loss": "val log-loss"}


def explain_results(select: Callable[[dict], bool]) -> list[dict]:
    return [r for r in read_results("explain.jsonl") if select(r)]


def explain_completeness_table() -> str:
    """Integrated-gradients completeness by model and steps."""
    return columns(
        explain_results(lambda r: "share_within_1pct" in r),
        [
            ("data", data_name),
            ("model", lambda r: r["model"]),
            ("steps", lambda r: str(r["steps"])),
            ("molecules within 1%", lambda r: f"{100 * r['share_within_1pct']:.1f}%"),
            ("relative error, median", field("rel_error_p50", 4)),
            ("relative error, 95th pct", field("rel_error_p95", 4)),
            ("absolute error, median", field("abs_error_median", 4)),
        ],
    )


def explain_speed_table() -> str:
    """Attribution speed per method."""
    return columns(
        explain_results(lambda r: "molecules_per_s" in r),
        [
            ("data", data_name),
            ("model", lambda r: r["model"]),
            ("method", lambda r: r["method"]),
            ("settings", lambda r: r.get("settings", "")),
            ("molecules", lambda r: str(r["n_molecules"])),
            ("molecules/s", field("molecules_per_s", 1)),
        ],
    )


def explain_counterfactual_table() -> str:
    """Counterfactual success, similarity and time per molecule."""
    return columns(
        explain_results(lambda r: r["method"] == "counterfactual"),
        [
            ("data", data_name),
            ("model", lambda r: r["model"]),
            ("target", lambda r: r.get("target") or "(the only one)"),
            ("test molecules", lambda r: str(r["n_molecules"])),
            ("counterfactual found", lambda r: f"{100 * r['success_rate']:.1f}%"),
            ("mean similarity", field("mean_similarity")),
            ("s per molecule", field("seconds_per_molecule", 2)),
            ("s, 95th pct", field("seconds_p95", 2)),
        ],
    )


def matbench_table() -> str:
    """Matbench composition tasks: mean over the official folds, and rank."""
    return columns(
        [r for r in read_results("materials.jsonl") if "folds" in r],
        [
            ("task", lambda r: r["dataset"].removeprefix("matbench_")),
            ("model", lambda r: r["model"]),
            ("settings", settings_text),
            ("metric", lambda r: r["metric"].replace("_", "-")),
            ("unit", lambda r: r["unit"]),
            ("mean ± std over folds", lambda r: f"{r['mean']:.4f} ± {r['std']:.4f}"),
            ("RF-SCM/Magpie", field("rf_scm_magpie", 4)),
            ("leader", lambda r: f"{r['leader'][0]} {r['leader'][1]:.4f}"),
            ("rank", lambda r: f"{r['rank']} of {r['entries']}"),
            ("wall s", field("wall_s", 0)),
        ],
    )


def settings_text(record: dict) -> str:
    """A network's settings as ``key=value`` pairs (empty for classic models)."""
    return ", ".join(f"{k}={v}" for k, v in record.get("settings", {}).items())


def large_cell_table() -> str:
    """Peak memory of the crystal networks on one large MOF cell."""
    return columns(
        read_results("large_cell.jsonl"),
        [
            ("structure", lambda r: r["dataset"]),
            ("model", lambda r: r["model"]),
            ("atoms", lambda r: f"{r['atoms']:,}" if "atoms" in r else ""),
            ("pairs (5 Å)", lambda r: f"{r['pairs']:,}" if "pairs" in r else ""),
            (
                "peak memory (GB)",
                lambda r: (
                    f"{r['peak_rss_gb']:.2f}"
                    if "peak_rss_gb" in r
                    else f"failed (exit {r['exit_code']})"
                ),
            ),
            (
                "fit s (epochs)",
                lambda r: f"{r['fit_s']:.0f} ({r['epochs']})" if "fit_s" in r else "",
            ),
            ("predict s", field("predict_s", 2)),
        ],
    )


def perovskite_table() -> str:
    """Perov-5 heat of formation on a held-out fifth of the validation set."""
    return columns(
        [
            r
            for r in read_results("materials.jsonl")
            if r["dataset"].startswith("perov")
        ],
        [
            ("data", lambda r: r["dataset"]),
            ("target", lambda r: r["target"]),
            ("model", lambda r: r["model"]),
            ("settings", settings_text),
            ("train / test", lambda r: f"{r['n_train']:,} / {r['n_test']:,}"),
            ("test MAE (eV)", field("mae", 4)),
            ("wall s", field("wall_s", 0)),
        ],
    )


def mof_baseline_table() -> str:
    """The random-forest descriptor baseline of CoRE MOF properties."""
    records = [
        r for r in read_results("materials.jsonl") if r["dataset"].startswith("CoRE")
    ]
    targets = list(dict.fromkeys(r["target"] for r in records))
    sizes = sorted({r["n_train"] for r in records})
    cell = {
        (r["target"], r["n_train"]): r.get("mae", r.get("roc_auc")) for r in records
    }
    rows = [
        [f"{t} ({'ROC-AUC' if t == 'Has_OMS' else 'MAE'})"]
        + [number(cell.get((t, n)), 3) for n in sizes]
        for t in targets
    ]
    return markdown_table(["target"] + [f"{n:,} labels" for n in sizes], rows)


def flows_table() -> str:
    """Held-out log-likelihood per variable of flows and their baselines."""
    records = read_results("flows.jsonl")

    def settings(r: dict) -> str:
        if "components" in r:
            return f"{r['components']} components (chosen on validation)"
        if "layers" in r:
            width = f"{r['layers']} layers, {r['hidden']} wide"
            return f"{width}; best epoch {r['best_epoch']}"
        return ""

    return columns(
        records,
        [
            ("data", lambda r: f"{r['dataset']} ({', '.join(r['columns'])})"),
            ("model", lambda r: r["model"]),
            ("settings", settings),
            (
                "train / val / test",
                lambda r: f"{r['n_train']:,} / {r['n_val']:,} / {r['n_test']:,}",
            ),
            ("test log-likelihood per variable (nats)", field("test_ll_per_dim", 4)),
            ("wall s", field("wall_s", 0)),
        ],
    )


def flowjax_table() -> str:
    """molmat's spline flow against flowjax's on the same data."""
    return columns(
        read_results("flowjax_compare.jsonl"),
        [
            ("model", lambda r: r["model"]),
            ("ms per Adam step (batch 256)", field("step_ms", 2)),
            ("fit s", field("fit_s", 0)),
            ("epochs", field("epochs_run", 0)),
            ("test log-likelihood per variable", field("test_ll_per_dim", 4)),
        ],
    )


def last_per_run(stage: str) -> list[dict]:
    """The last crystal-generation record of ``stage`` per dataset and model,
    with the training record's size joined."""
    records = read_results("crystals.jsonl")
    trained = {(r["dataset"], r["model"]): r for r in records if r["stage"] == "train"}
    found = {(r["dataset"], r["model"]): r for r in records if r["stage"] == stage}
    return [
        {"n_train": trained.get(k, {}).get("n_train"), **r} for k, r in found.items()
    ]


def crystal_csp_table() -> str:
    """Structure prediction: molmat's latest run per dataset and model,
    the published numbers beside it."""
    from molmat.tasks.crystal_metrics import PUBLISHED

    rows = []
    for r in last_per_run("csp"):
        rows.append(
            [
                r["dataset"],
                f"molmat {r['model']}",
                f"{r['n_train']:,}" if r.get("n_train") else "",
                f"{r['n_test']:,}",
                number(r["match_rate"], 2),
                number(r["rmse"], 4),
                number(r["structures_per_second"], 2),
            ]
        )
        for model, (rate, rmse) in PUBLISHED["csp"].get(r["dataset"], {}).items():
            rows.append(
                [
                    r["dataset"],
                    f"{model} (published)",
                    "full",
                    "full",
                    number(rate, 2),
                    number(rmse, 4),
                    "",
                ]
            )
    headers = [
        "data",
        "model",
        "train",
        "test",
        "match rate %",
        "RMSE",
        "structures/s (2 cores)",
    ]
    return markdown_table(headers, rows)


def crystal_denovo_table() -> str:
    """De novo generation: molmat's latest run per dataset and model, the
    published numbers beside it."""
    from molmat.tasks.crystal_metrics import PUBLISHED

    keys = [
        "structure_validity",
        "composition_validity",
        "cov_recall",
        "cov_precision",
        "wdist_density",
        "wdist_n_elements",
    ]
    rows = []
    for r in last_per_run("denovo"):
        rows.append(
            [
                r["dataset"],
                f"molmat {r['model']} ({r['n']:,} samples)",
                *(number(r.get(k), 4 if k.startswith("w") else 2) for k in keys),
                number(r.get("overlap_free"), 1),
                number(r["structures_per_second"], 2),
            ]
        )
        for model, values in PUBLISHED["denovo"].get(r["dataset"], {}).items():
            rows.append(
                [
                    r["dataset"],
                    f"{model} (published)",
                    *(number(v, 4 if i > 3 else 2) for i, v in enumerate(values)),
                    "",
                    "",
                ]
            )
    headers = [
        "data",
        "model",
        "struct. valid %",
        "comp. valid %",
        "COV-R %",
        "COV-P %",
        "W density",
        "W #elements",
        "overlap-free %",
        "structures/s",
    ]
    return markdown_table(headers, rows)


TABLES: dict[str, Callable[[], str]] = {
    "crystal_csp": crystal_csp_table,
    "crystal_denovo": crystal_denovo_table,
    "flows": flows_table,
    "flowjax": flowjax_table,
    "property": property_table,
    "matbench": matbench_table,
    "perovskites": perovskite_table,
    "mof_baseline": mof_baseline_table,
    "large_cell": large_cell_table,
    "gnn_zoo": gnn_zoo_table,
    "classic": classic_table,
    "potentials": potentials_table,
    "esol_latest": esol_latest_table,
    "aqsoldb_latest": aqsoldb_latest_table,
    "rmd17_latest": rmd17_latest_table,
    "md_latest": md_latest_table,
    "generation": generation_table,
    "fcd_curve": fcd_curve_table,
    "fcd_check": fcd_check_table,
    "vae_optimize": vae_optimize_table,
    "pretraining": pretraining_table,
    "finetune": finetune_table,
    "sequences": sequences_table,
    "explain_completeness": explain_completeness_table,
    "explain_speed": explain_speed_table,
    "explain_counterfactuals": explain_counterfactual_table,
}


def fill(markdown: str) -> str:
    """``markdown`` with every results marker replaced by its table."""

    def table(match: re.Match) -> str:
        name = match.group(1)
        if name not in TABLES:
            raise ValueError(f"unknown results table {name!r}; known: {list(TABLES)}")
        return TABLES[name]()

    return MARKER.sub(table, markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:
    return fill(markdown)


if __name__ == "__main__":
    for name, make in TABLES.items():
        print(f"## {name}\n\n{make()}\n")
