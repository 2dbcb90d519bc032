"""PyTorch ``torch.save`` files read into numpy, without PyTorch and safely.

A file written by ``torch.save`` (PyTorch >= 1.6) is a zip archive: one
folder holding ``data.pkl`` (a pickle of the saved object) and ``data/<key>``
(the raw little-endian bytes of each tensor storage; a ``byteorder`` record
saying big is refused). The pickle names the Python callables that rebuild
it; unpickling it with :mod:`pickle` would call whatever it names. Here only
an allow-list of exact names is resolved, each to a small local stand-in, and
any other name is refused with :class:`TorchFileError` before anything runs:

- ``collections.OrderedDict``: state dicts and their metadata;
- ``torch._utils._rebuild_tensor_v2``: a tensor as a strided view of a storage;
- ``torch.<Type>Storage``: the storage types of :data:`STORAGE_DTYPES`.

Tensors come back as numpy arrays (copies, C order, native byte order).

Example:
    >>> from molmat.data.torch_weights import read_state_dict
    >>> weights = read_state_dict("model.pt")  # doctest: +SKIP
    >>> weights["layer.weight"].shape  # doctest: +SKIP
    (32, 35, 4)
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

# torch storage type -> numpy dtype (without byte order)
STORAGE_DTYPES = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class TorchFileError(ValueError):
    """A torch file that is corrupted, of an unknown layout, or refused."""


class _StorageType:
    """Stand-in for ``torch.<Type>Storage``: only its numpy dtype matters."""

    def __init__(self, name: str):
        self.name = name
        self.dtype = STORAGE_DTYPES[name]


def _rebuild_tensor(
    storage: np.ndarray,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    *_ignored: Any,
) -> np.ndarray:
    """``torch._utils._rebuild_tensor_v2``: the view (offset, size, stride) of
    a 1-D storage, copied; ``requires_grad``, hooks and metadata are dropped.

    Raises:
        TorchFileError: if the view reaches outside the storage.
    """
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride) or min((*size, *stride, offset), default=0) < 0:
        raise TorchFileError(f"tensor of size {size}, stride {stride} is malformed")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= storage.size:
        raise TorchFileError(
            f"tensor (offset {offset}, size {size}, stride {stride}) reaches "
            f"element {last} of a storage of {storage.size}"
        )
    view = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=size,
        strides=[s * storage.itemsize for s in stride],
        writeable=False,
    )
    return np.array(view, order="C")


_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _Unpickler(pickle.Unpickler):
    """Resolves only the allow-listed globals; storages come from the zip."""

    def __init__(self, data: bytes, archive: _Archive):
        super().__init__(io.BytesIO(data))
        self.archive = archive
        self.storages: dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise TorchFileError(
                f"{self.archive.path}: refused to load {module}.{name} "
                "(not a tensor, storage or OrderedDict; torch files may run code)"
            ) from None

    def persistent_load(self, pid: Any) -> np.ndarray:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise TorchFileError(f"{self.archive.path}: unknown persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise TorchFileError(
                f"{self.archive.path}: bad storage type {storage_type!r}"
            )
        if key not in self.storages:
            self.storages[key] = self.archive.storage(
                str(key), storage_type.dtype, numel
            )
        return self.storages[key]


class _Archive:
    """The members of one torch zip: its pickle and its storages."""

    def __init__(self, path: Path, zf: zipfile.ZipFile):
        self.path = path
        self.zf = zf
        pickles = [n for n in zf.namelist() if n.split("/")[-1] == "data.pkl"]
        if len(pickles) != 1:
            raise TorchFileError(f"{path}: expected one data.pkl, found {len(pickles)}")
        self.prefix = pickles[0][: -len("data.pkl")]
        self._check_byte_order()

    def read(self, member: str) -> bytes:
        try:
            return self.zf.read(self.prefix + member)
        except KeyError:
            raise TorchFileError(f"{self.path}: member {member} is missing") from None

    def _check_byte_order(self) -> None:
        """Refuse a big-endian file (a ``byteorder`` record other than little)."""
        if self.prefix + "byteorder" not in self.zf.namelist():
            return  # files of PyTorch < 1.10: little-endian
        order = self.read("byteorder").decode(errors="replace").strip()
        if order != "little":
            raise TorchFileError(f"{self.path}: byte order {order!r} is not supported")

    def storage(self, key: str, dtype: str, numel: int) -> np.ndarray:
        """Storage ``data/<key>``: ``numel`` little-endian items of ``dtype``."""
        raw = self.read(f"data/{key}")
        dt = np.dtype("<" + dtype)
        if len(raw) < numel * dt.itemsize:
            raise TorchFileError(
                f"{self.path}: storage {key} holds {len(raw)} bytes, "
                f"{numel} x {dt.itemsize} expected"
            )
        return np.frombuffer(raw, dt, count=numel).astype(dt.newbyteorder("="))


def load_torch_file(path: str | Path) -> Any:
    """The object saved by ``torch.save`` in ``path``, tensors as numpy arrays.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        TorchFileError: if it is not a torch zip (or the legacy pre-1.6
            format), is truncated or corrupted, or names a callable outside
            the allow-list (the message names the file and the callable).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"torch file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise TorchFileError(
            f"{path}: not a torch zip file (corrupted, or the legacy format of "
            "PyTorch < 1.6, which is not supported)"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            archive = _Archive(path, zf)
            return _Unpickler(archive.read("data.pkl"), archive).load()
    except TorchFileError:
        raise
    except Exception as e:  # any other failure to decode untrusted bytes
        raise TorchFileError(f"{path}: corrupted torch file ({e!r})") from e


def flatten_arrays(obj: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """The arrays inside nested mappings/lists/tuples, by dotted path.

    Mapping keys and sequence positions make up the names (``"0.weight"``);
    non-array leaves (ints, strings, ...) are left out.
    """
    if isinstance(obj, np.ndarray):
        return {prefix: obj}
    if isinstance(obj, Mapping):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return {}
    out: dict[str, np.ndarray] = {}
    for key, value in items:
        out.update(flatten_arrays(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """A saved state dict (or any nest of tensors) as ``{name: array}``.

    Raises:
        FileNotFoundError, TorchFileError: as :func:`load_torch_file`.
    """
    return flatten_arrays(load_torch_file(path))
