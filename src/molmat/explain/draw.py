"""Pictures of explanations: similarity maps, token bars, counterfactual grids.

The format follows the file suffix: ``.png`` or ``.svg``.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import Draw
from rdkit.Chem.Draw import SimilarityMaps, rdMolDraw2D

FORMATS = (".png", ".svg")
LINE_PX = 20  # caption line height


def _format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: pictures are written as {' or '.join(FORMATS)}")
    return suffix


def draw_atom_attributions(
    mol: Chem.Mol,
    values: Sequence[float],
    path: str | Path,
    caption: str = "",
    size: int = 400,
) -> Path:
    """A similarity map of ``mol`` with atoms coloured by ``values`` [n_atoms]
    (green positive, pink negative; contours), ``caption`` below it (one
    picture line per text line)."""
    path = Path(path)
    svg = _format(path) == ".svg"
    values = [float(v) for v in values]
    if len(values) != mol.GetNumAtoms():
        raise ValueError(f"{len(values)} values for {mol.GetNumAtoms()} atoms")
    canvas = rdMolDraw2D.MolDraw2DSVG if svg else rdMolDraw2D.MolDraw2DCairo
    drawer = canvas(size, size)
    if mol.GetNumAtoms() >= 2 and any(values):
        # a coarser grid keeps the SVG small; the PNG keeps RDKit's default
        SimilarityMaps.GetSimilarityMapFromWeights(
            mol, values, draw2d=drawer, gridResolution=0.2 if svg else 0.1
        )
    else:  # RDKit's map needs two atoms; nothing to colour without values
        drawer.DrawMolecule(rdMolDraw2D.PrepareMolForDrawing(mol))
    drawer.FinishDrawing()
    text = drawer.GetDrawingText()
    path.parent.mkdir(parents=True, exist_ok=True)
    if svg:
        path.write_text(_svg_with_caption(text, caption, size))
    else:
        path.write_bytes(_png_with_caption(text, caption))
    return path


def _png_with_caption(png: bytes, caption: str) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(png)).convert("RGB")
    lines = caption.splitlines()
    framed = Image.new(
        "RGB", (image.width, image.height + LINE_PX * len(lines) + 6), "white"
    )
    framed.paste(image, (0, 0))
    pen = ImageDraw.Draw(framed)
    for i, line in enumerate(lines):
        pen.text(
            (image.width / 2, image.height + LINE_PX * (i + 0.5)),
            line,
            fill="black",
            anchor="mm",
            font_size=13,
        )
    out = io.BytesIO()
    framed.save(out, format="PNG")
    return out.getvalue()


def _svg_with_caption(svg: str, caption: str, size: int) -> str:
    lines = caption.splitlines()
    height = size + LINE_PX * len(lines) + 6
    svg = re.sub(r"height='\d+px'", f"height='{height}px'", svg, count=1)
    svg = re.sub(
        r"viewBox='0 0 (\d+) \d+'", rf"viewBox='0 0 \1 {height}'", svg, count=1
    )
    text = "".join(
        f"<text x='{size / 2}' y='{size + LINE_PX * (i + 0.75)}' "
        "text-anchor='middle' font-family='sans-serif' font-size='13px'>"
        f"{_xml_text(line)}</text>\n"
        for i, line in enumerate(lines)
    )
    return svg.replace("</svg>", text + "</svg>")


def draw_token_attributions(
    tokens: Sequence[str], values: Sequence[float], path: str | Path, caption: str = ""
) -> Path:
    """A bar per token (green positive, pink negative), tokens on the x axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    _format(path)
    values = np.asarray(values, float)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.3 * len(tokens) + 1), 3.2))
    ax.bar(
        np.arange(len(values)),
        values,
        color=np.where(values >= 0, "#1b7837", "#c51b7d"),
    )
    ax.set_xticks(np.arange(len(tokens)), tokens, rotation=90, fontsize=8)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel("attribution")
    ax.set_title(caption, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def draw_grid(
    smiles: Sequence[str],
    legends: Sequence[str],
    path: str | Path,
    per_row: int = 3,
    size: int = 260,
) -> Path:
    """Molecules in a grid with a legend under each."""
    path = Path(path)
    svg = _format(path) == ".svg"
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    picture = Draw.MolsToGridImage(
        mols,
        molsPerRow=per_row,
        subImgSize=(size, size),
        legends=list(legends),
        useSVG=svg,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    if svg:
        path.write_text(picture)
    else:
        picture.save(path)
    return path


def _xml_text(text: str) -> str:
    """``text`` escaped for XML, non-ASCII as character references (RDKit's
    SVG declares a Latin-1 encoding)."""
    return html.escape(text).encode("ascii", "xmlcharrefreplace").decode()
