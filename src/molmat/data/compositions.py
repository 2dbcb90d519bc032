"""Chemical formulas → compositions (element amounts), for composition-only models.

Formulas as materials datasets write them: element symbols with integer or
decimal amounts (``Fe0.62C0.01Mn0.37``), groups in round or square brackets
with a multiplier (``Ag(AuS)2``, ``Ca3[PO4]2``), adducts joined by ``·`` or
``*`` with a leading count (``CuSO4·5H2O``), spaces ignored. Charges,
oxidation-state decorations and unknown symbols are errors that name the
formula and the reason.

Example:
    >>> parse_formula("Ag(AuS)2")
    {'Ag': 1.0, 'Au': 2.0, 'S': 2.0}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase.data import atomic_numbers

MAX_Z = 112  # heaviest element the element tables know (Cn)
_TOKEN = re.compile(r"([A-Z][a-z]?)|(\d+\.?\d*|\.\d+)|([(\[])|([)\]])|([·*])")


@dataclass(frozen=True)
class Composition:
    """Amounts of each element of a formula, in the order first written.

    Attributes:
        formula: the formula as written (stripped).
        symbols: element symbols, each once.
        amounts: [k] amount of each element (as written, not normalised).
    """

    formula: str
    symbols: tuple[str, ...]
    amounts: np.ndarray

    @property
    def fractions(self) -> np.ndarray:
        """[k] atomic fractions, summing to 1."""
        return self.amounts / self.amounts.sum()

    @property
    def numbers(self) -> np.ndarray:
        """[k] atomic numbers."""
        return np.array([atomic_numbers[s] for s in self.symbols], np.int64)

    @property
    def key(self) -> str:
        """The same text for the same atomic fractions (``Fe2O3`` = ``Fe4O6``):
        elements sorted, fractions to 6 digits."""
        order = np.argsort(self.symbols)
        return "".join(f"{self.symbols[i]}{self.fractions[i]:.6g}" for i in order)


def parse_formula(text: str) -> dict[str, float]:
    """Element → amount of a formula.

    Raises:
        ValueError: empty formula, unbalanced brackets, an unknown element or
            character, a zero amount, or a charge.
    """
    formula = text.replace(" ", "")
    if not formula:
        raise ValueError("empty formula")
    parts = re.split(r"[·*]", formula)
    total: dict[str, float] = {}
    for k, part in enumerate(parts):
        count = 1.0
        if k > 0:  # an adduct: "5H2O" after the dot
            lead = re.match(r"\d+\.?\d*|\.\d+", part)
            if lead:
                count = float(lead.group())
                part = part[lead.end() :]
        if not part:
            raise ValueError(f"formula {text!r}: nothing after an adduct dot")
        for symbol, amount in _parse_group(part, text).items():
            total[symbol] = total.get(symbol, 0.0) + count * amount
    return total


def _parse_group(formula: str, text: str) -> dict[str, float]:
    """Element amounts of a formula without adduct dots."""
    if re.search(r"[+-]", formula):
        raise ValueError(f"formula {text!r}: charges are not supported")
    stack: list[dict[str, float]] = [{}]
    last: dict[str, float] | None = None  # what a following number multiplies
    position = 0
    for match in _TOKEN.finditer(formula):
        if match.start() != position:
            bad = formula[position : match.start()]
            raise ValueError(f"formula {text!r}: unexpected {bad!r}")
        position = match.end()
        symbol, number, opening, closing, _ = match.groups()
        if symbol:
            if atomic_numbers.get(symbol, MAX_Z + 1) > MAX_Z:
                raise ValueError(f"formula {text!r}: unknown element {symbol!r}")
            last = {symbol: 1.0}
            _add(stack[-1], last)
        elif number:
            if last is None:
                raise ValueError(
                    f"formula {text!r}: a number {number!r} with no element"
                )
            amount = float(number)
            if amount <= 0:
                raise ValueError(f"formula {text!r}: zero amount")
            _add(stack[-1], {s: (amount - 1.0) * a for s, a in last.items()})
            last = None
        elif opening:
            stack.append({})
            last = None
        elif closing:
            if len(stack) == 1:
                raise ValueError(f"formula {text!r}: unbalanced brackets")
            group = stack.pop()
            _add(stack[-1], group)
            last = group
        else:
            raise ValueError(f"formula {text!r}: misplaced adduct dot")
    if position != len(formula):
        raise ValueError(f"formula {text!r}: unexpected {formula[position:]!r}")
    if len(stack) != 1:
        raise ValueError(f"formula {text!r}: unbalanced brackets")
    if not stack[0]:
        raise ValueError(f"formula {text!r}: no elements")
    return stack[0]


def _add(into: dict[str, float], amounts: dict[str, float]) -> None:
    for symbol, amount in amounts.items():
        into[symbol] = into.get(symbol, 0.0) + amount


def parse_composition(cell: object) -> tuple[Composition | None, str]:
    """One table cell → ``(Composition, "")`` or ``(None, reason)``."""
    if not isinstance(cell, str) or not cell.strip():
        return None, "empty formula cell"
    text = cell.strip()
    try:
        amounts = parse_formula(text)
    except ValueError as err:
        return None, str(err)
    return (
        Composition(text, tuple(amounts), np.array(list(amounts.values()))),
        "",
    )


def compositions(X: Sequence) -> tuple[list[Composition | None], list[str]]:
    """Parse formulas (or pass compositions through): per item, the
    composition (``None`` if unusable) and the reason (``""`` if usable)."""
    parsed = [
        (x, "") if isinstance(x, Composition) else parse_composition(x) for x in X
    ]
    return [c for c, _ in parsed], [r for _, r in parsed]
