"""Architectures of graph property networks: named models and config files.

An architecture is a small dict; a YAML or JSON file with these keys builds a
new network without code (keys left out come from the estimator's options,
then from the layer's defaults)::

    layer: gin          # gcn | gin | gat | mpnn | attentivefp | schnet | transformer
    hidden: 128         # width of the atom states
    depth: 4            # message-passing layers
    readout: mean       # sum | mean | max | attention | set2set | attentivefp
    norm: batch         # none | batch | layer
    residual: true      # h <- h + layer(h)
    dropout: 0.1
    head: [128, 64]     # hidden widths of the MLP head ([] = linear)
    heads: 4            # attention heads (gat, transformer)
    max_distance: 6     # shortest-path distance buckets (transformer)
    cutoff: 5.0         # Å, neighbour cutoff (schnet)
    n_rbf: 32           # Gaussian radial basis functions (schnet)
    positions: false    # transformer: attention bias from 3D distances

``schnet`` (and a transformer with ``positions: true``) reads 3D positions,
so its molecules need conformers.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from molmat.nn.norm import NORMS
from molmat.nn.readout import READOUTS

LAYERS = ("gcn", "gin", "gat", "mpnn", "attentivefp", "schnet", "transformer")
POSITION_LAYERS = ("schnet",)

# key -> accepted Python types
KEYS: dict[str, tuple[type, ...]] = {
    "layer": (str,),
    "hidden": (int,),
    "depth": (int,),
    "readout": (str,),
    "norm": (str,),
    "residual": (bool,),
    "dropout": (float, int),
    "head": (list,),
    "heads": (int,),
    "max_distance": (int,),
    "cutoff": (float, int),
    "n_rbf": (int,),
    "positions": (bool,),
}
COMMON = {"readout": "sum", "norm": "none", "residual": True}
LAYER_DEFAULTS: dict[str, dict] = {
    "gcn": {},
    "gin": {},
    "gat": {"heads": 4},
    "mpnn": {"residual": False},
    "attentivefp": {"readout": "attentivefp", "residual": False},
    "schnet": {"cutoff": 5.0, "n_rbf": 32},
    "transformer": {"heads": 4, "max_distance": 6, "norm": "layer", "positions": False},
}
ARCHITECTURE_SUFFIXES = (".yaml", ".yml", ".json")


class ArchitectureError(ValueError):
    """An architecture file or dict that cannot describe a network."""


def is_architecture_file(model) -> bool:
    """True when ``model`` names a YAML/JSON file rather than a built-in model."""
    return isinstance(model, str | Path) and str(model).endswith(ARCHITECTURE_SUFFIXES)


def is_graph_model(model) -> bool:
    """A named graph network, an architecture dict or an architecture file."""
    return isinstance(model, dict) or model in LAYERS or is_architecture_file(model)


def read_architecture(path: str | Path) -> dict:
    """Read and check an architecture file (YAML or JSON)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ArchitectureError(
            f"{path}: cannot read architecture file ({err})"
        ) from err
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise ArchitectureError(f"{path}: not valid {path.suffix[1:]} ({err})") from err
    return check_architecture(data, str(path), complete=False)


def check_architecture(arch, source: str, complete: bool = True) -> dict:
    """Check keys, types and values; errors name ``source`` (a file or "model").

    With ``complete=False`` only the keys present are checked (a file may
    leave some to the estimator's options).
    """
    if not isinstance(arch, dict):
        raise ArchitectureError(f"{source}: an architecture must be a mapping of keys")
    unknown = sorted(set(arch) - set(KEYS))
    if unknown:
        raise ArchitectureError(
            f"{source}: unknown key(s) {unknown}; allowed keys are {list(KEYS)}"
        )
    if "layer" not in arch:
        raise ArchitectureError(
            f"{source}: 'layer' is required (one of {list(LAYERS)})"
        )
    for key, value in arch.items():
        types = KEYS[key]
        if not isinstance(value, types) or (
            bool not in types and isinstance(value, bool)
        ):
            raise ArchitectureError(
                f"{source}: {key} must be {' or '.join(t.__name__ for t in types)}, "
                f"got {value!r}"
            )
    choices = {"layer": LAYERS, "readout": READOUTS, "norm": NORMS}
    for key, allowed in choices.items():
        if key in arch and arch[key] not in allowed:
            raise ArchitectureError(
                f"{source}: unknown {key} {arch[key]!r}; choose one of {list(allowed)}"
            )
    for key in ("hidden", "depth", "heads", "max_distance", "n_rbf"):
        if key in arch and arch[key] < 1:
            raise ArchitectureError(f"{source}: {key} must be at least 1")
    if "head" in arch and not all(
        isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in arch["head"]
    ):
        raise ArchitectureError(f"{source}: head must be a list of positive widths")
    if "dropout" in arch and not 0 <= arch["dropout"] < 1:
        raise ArchitectureError(f"{source}: dropout must be in [0, 1)")
    if "cutoff" in arch and arch["cutoff"] <= 0:
        raise ArchitectureError(f"{source}: cutoff must be positive (Å)")
    if complete:
        if arch["layer"] == "mpnn" and arch["residual"]:
            raise ArchitectureError(
                f"{source}: layer mpnn keeps its states on bonds and adds its input "
                "at every step; residual must be false"
            )
        if "positions" in arch and arch["layer"] != "transformer":
            raise ArchitectureError(
                f"{source}: positions is a transformer option (schnet always reads "
                "positions)"
            )
        if "heads" in arch and arch["hidden"] % arch["heads"]:
            raise ArchitectureError(
                f"{source}: hidden ({arch['hidden']}) must be a multiple of heads "
                f"({arch['heads']})"
            )
    return dict(arch)


def resolve_architecture(model, options: dict) -> dict:
    """The full architecture of ``model``.

    Args:
        model: a layer name (``"gin"``...), an architecture dict, or the path
            of a YAML/JSON architecture file.
        options: the estimator's values for ``hidden``, ``depth``,
            ``dropout``, ``head`` and (when set) ``readout``; the model's own
            keys win over them, and layer defaults fill what both leave out.
    """
    if isinstance(model, dict):
        given, source = check_architecture(model, "model", complete=False), "model"
    elif model in LAYERS:
        given, source = {"layer": model}, "model"
    elif is_architecture_file(model):
        given, source = read_architecture(model), str(model)
    else:
        raise ArchitectureError(
            f"unknown model {model!r}; choose one of {list(LAYERS)} or give an "
            f"architecture file ({', '.join(ARCHITECTURE_SUFFIXES)})"
        )
    layer = given["layer"]
    arch = {**COMMON, **LAYER_DEFAULTS[layer], **options, **given}
    return check_architecture(arch, source)


def needs_positions(arch: dict) -> bool:
    """Whether the network reads 3D atom positions (needs conformers)."""
    return arch["layer"] in POSITION_LAYERS or arch.get("positions", False)
