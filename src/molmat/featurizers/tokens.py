"""String tokenisers: atom-level SMILES, SELFIES and amino-acid sequences.

A :class:`Vocabulary` maps tokens to integer ids; ids 0, 1 and 2 are the
padding, begin and end tokens. A vocabulary is fitted on a corpus and saved
in a model archive as its token list; encoding a molecule with a token it has
never seen is an error naming the molecule (no silent ``<unk>``).

Example:
    >>> from molmat.featurizers.tokens import Vocabulary, tokenizer
    >>> tok = tokenizer("smiles")
    >>> tok.split("CC(=O)Cl")
    ['C', 'C', '(', '=', 'O', ')', 'Cl']
    >>> vocab = Vocabulary.fit(tok, ["CC(=O)Cl", "c1ccccc1"])
    >>> tok.join(vocab.decode(vocab.encode_one("c1ccccc1")))
    'c1ccccc1'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")

# Atom-level SMILES tokens (Schwaller et al., ACS Cent. Sci. 5, 1572 (2019)):
# bracket atoms whole, two-letter organic-subset atoms, ring-bond labels.
SMILES_PATTERN = re.compile(
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|/|:|~|@|\?"
    r"|>|\*|\$|%[0-9]{2}|[0-9])"
)


class TokenError(ValueError):
    """A string that cannot be tokenised (or encoded with a vocabulary)."""


class SmilesTokenizer:
    """Atom-level SMILES tokens; ``join(split(s)) == s`` for every SMILES."""

    kind = "smiles"

    def split(self, smiles: str) -> list[str]:
        tokens = SMILES_PATTERN.findall(smiles)
        if "".join(tokens) != smiles:
            bad = SMILES_PATTERN.sub("", smiles)
            raise TokenError(f"{smiles!r}: characters {bad!r} are not SMILES tokens")
        return tokens

    def join(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)


# Monatomic ions bond to nothing: without these constraints SELFIES would
# give them its default capacity of 8 bonds and decode invalid molecules.
ION_CONSTRAINTS = {
    **{f"{x}-1": 0 for x in ("F", "Cl", "Br", "I")},
    **{f"{x}+1": 0 for x in ("Li", "Na", "K", "Rb", "Cs", "Ag")},
    **{f"{x}+2": 0 for x in ("Mg", "Ca", "Sr", "Ba", "Zn")},
}


def _selfies():
    """The ``selfies`` module, with the ion constraints added (once)."""
    import selfies

    constraints = selfies.get_semantic_constraints()
    if any(constraints.get(k) != v for k, v in ION_CONSTRAINTS.items()):
        selfies.set_semantic_constraints({**constraints, **ION_CONSTRAINTS})
    return selfies


class SelfiesTokenizer:
    """SELFIES tokens (Krenn et al. 2020): every token sequence decodes to a
    valid molecule. ``split`` takes SMILES and ``join`` returns SMILES.
    Monatomic ions (halides, alkali and alkaline-earth cations) are given
    zero bonds (:data:`ION_CONSTRAINTS`, set in ``selfies``' global
    constraints)."""

    kind = "selfies"

    def split(self, smiles: str) -> list[str]:
        selfies = _selfies()

        try:
            encoded = selfies.encoder(smiles)
        except selfies.EncoderError as err:
            reason = " ".join(str(err).split()[:4])  # selfies appends the input
            raise TokenError(f"{smiles!r}: no SELFIES encoding ({reason})") from None
        return list(selfies.split_selfies(encoded))

    def join(self, tokens: Sequence[str]) -> str:
        selfies = _selfies()
        try:
            return selfies.decoder("".join(tokens))
        except selfies.DecoderError:  # malformed token strings only
            return ""


# One-letter codes: the 20 standard amino acids, selenocysteine (U),
# pyrrolysine (O) and the IUPAC ambiguity codes B (D/N), Z (E/Q), J (I/L), X.
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY" + "UO" + "BZJX"


class AminoAcidTokenizer:
    """One token per residue of a protein or peptide sequence in one-letter
    code (upper or lower case; :data:`AMINO_ACIDS`); ``join`` gives the
    upper-case sequence."""

    kind = "aa"

    def split(self, sequence: str) -> list[str]:
        tokens = list(sequence.upper())
        bad = sorted({t for t in tokens if t not in AMINO_ACIDS})
        if bad:
            where = next(i for i, t in enumerate(tokens) if t in bad)
            raise TokenError(
                f"{sequence!r}: {''.join(bad)!r} not one-letter amino-acid codes "
                f"(first at position {where})"
            )
        if not tokens:
            raise TokenError("empty sequence")
        return tokens

    def join(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)


TOKENIZERS = {
    "smiles": SmilesTokenizer,
    "selfies": SelfiesTokenizer,
    "aa": AminoAcidTokenizer,
}
MOLECULE_TOKENS = ("smiles", "selfies")  # tokens of molecules (read as SMILES)


def tokenizer(kind: str) -> SmilesTokenizer | SelfiesTokenizer | AminoAcidTokenizer:
    """The tokeniser named ``kind`` (``smiles``, ``selfies`` or ``aa``)."""
    try:
        return TOKENIZERS[kind]()
    except KeyError:
        raise ValueError(
            f"unknown token kind {kind!r}; choose from {', '.join(TOKENIZERS)}"
        ) from None


@dataclass(frozen=True)
class Vocabulary:
    """Token ↔ id map; ``tokens[i]`` is the token of id ``i`` (specials first)."""

    tokens: tuple[str, ...]

    @classmethod
    def fit(cls, tok, texts: Iterable[str]) -> Vocabulary:
        """The sorted token set of ``texts`` (raises on an untokenisable one)."""
        seen: set[str] = set()
        for text in texts:
            seen.update(tok.split(text))
        return cls.from_tokens(sorted(seen))

    @classmethod
    def from_tokens(cls, tokens: Sequence[str]) -> Vocabulary:
        """A vocabulary of ``tokens`` (without the specials)."""
        clash = set(tokens) & set(SPECIALS)
        if clash:
            raise ValueError(f"tokens {sorted(clash)} are reserved")
        return cls(SPECIALS + tuple(tokens))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def encode_one(self, text: str, tok=None, index: dict | None = None) -> np.ndarray:
        """Ids [n_tokens] of one string (no begin/end tokens).

        ``tok`` defaults to the SMILES tokeniser; ``index`` (``self.index``)
        may be passed to avoid rebuilding it per string.
        """
        tok = tok or SmilesTokenizer()
        index = index or self.index
        pieces = tok.split(text)
        try:
            return np.fromiter((index[p] for p in pieces), np.int32, len(pieces))
        except KeyError as err:
            raise TokenError(
                f"{text!r}: token {err.args[0]!r} is not in the model's vocabulary"
            ) from None

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` up to the first end token, specials dropped."""
        out = []
        for i in ids:
            if i == EOS:
                break
            if i > EOS:
                out.append(self.tokens[i])
        return out


@dataclass(frozen=True)
class EncodedCorpus:
    """Token ids of a corpus, ragged: molecule ``i`` is
    ``ids[offsets[i]:offsets[i + 1]]`` (no begin/end tokens).

    ``kept`` [n] are the input positions that were encoded; ``errors`` maps
    the others to the reason.
    """

    ids: np.ndarray
    offsets: np.ndarray
    kept: np.ndarray
    errors: dict[int, str]

    def __len__(self) -> int:
        return len(self.kept)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def subset(self, idx: np.ndarray) -> EncodedCorpus:
        """Entries ``idx`` (positions in this corpus) as a new contiguous
        corpus (``errors`` left behind)."""
        lens = self.lengths[idx]
        starts = self.offsets[idx]
        take = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
        ids = self.ids[np.arange(lens.sum(), dtype=np.int64) + take]
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        return EncodedCorpus(ids, offsets, self.kept[idx], {})


def encode_corpus(
    texts: Sequence[str],
    tok,
    vocab: Vocabulary | None = None,
    max_tokens: int | None = None,
    progress: bool = False,
    use_cache: bool = True,
) -> tuple[EncodedCorpus, Vocabulary]:
    """Tokenise and encode every string, fitting the vocabulary when ``vocab``
    is ``None``. Strings that fail (an unknown token, no SELFIES encoding,
    more than ``max_tokens``) are reported in ``errors``, never dropped
    silently. The result is cached on disk (SELFIES encoding of a million
    molecules takes minutes).
    """
    from molmat.featurizers.cache import cached_arrays

    settings = [f"tokens-v1:{tok.kind}", f"max_tokens={max_tokens}"]
    if vocab is not None:
        settings.append("vocab=" + "\t".join(vocab.tokens))
    arrays = cached_arrays(
        settings,
        list(texts),
        lambda: _encode(texts, tok, vocab, max_tokens, progress),
        use_cache=use_cache,
    )
    vocab = Vocabulary(tuple(str(t) for t in arrays["vocab"]))
    errors = dict(
        zip(
            arrays["error_rows"].tolist(), arrays["error_reasons"].tolist(), strict=True
        )
    )
    corpus = EncodedCorpus(arrays["ids"], arrays["offsets"], arrays["kept"], errors)
    return corpus, vocab


def _encode(texts, tok, vocab, max_tokens, progress) -> dict[str, np.ndarray]:
    from molmat.data.console import progress_bar

    split, kept, errors = [], [], {}
    bar = progress_bar(texts, desc=f"{tok.kind} tokens", enabled=progress, unit="mol")
    for i, text in enumerate(bar):
        try:
            pieces = tok.split(text)
        except TokenError as err:
            errors[i] = str(err)
            continue
        if max_tokens is not None and len(pieces) > max_tokens:
            errors[i] = f"{text!r}: {len(pieces)} tokens, more than {max_tokens}"
            continue
        split.append(pieces)
        kept.append(i)
    if vocab is None:
        vocab = Vocabulary.from_tokens(sorted({p for s in split for p in s}))
    index = vocab.index
    encoded, rows = [], []
    for i, pieces in zip(kept, split, strict=True):
        unknown = [p for p in pieces if p not in index]
        if unknown:
            errors[i] = (
                f"{texts[i]!r}: token {unknown[0]!r} is not in the model's vocabulary"
            )
            continue
        encoded.append(np.fromiter(map(index.__getitem__, pieces), np.int32))
        rows.append(i)
    lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
    bad = sorted(errors)
    return {
        "ids": np.concatenate(encoded) if encoded else np.zeros(0, np.int32),
        "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "kept": np.asarray(rows, np.int64),
        "vocab": np.asarray(vocab.tokens),
        "error_rows": np.asarray(bad, np.int64),
        "error_reasons": np.asarray([errors[i] for i in bad], dtype=str),
    }
