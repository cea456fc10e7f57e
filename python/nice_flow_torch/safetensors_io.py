"""Reading and writing safetensors files without the `safetensors` package.

The format: an 8-byte little-endian header length N, N bytes of JSON (tensor name -> dtype, shape and
[begin, end) byte offsets into the data section, plus an optional "__metadata__" of string -> string), then the
raw little-endian tensor data. Besides F32, `parse` reads F16 (as float16) and BF16 (as float32, exactly), so
files with half-precision weights load too. nice-flow writes F32 tensors (F16 parameters on request) in sorted name
order with the header padded by spaces to a multiple of 8 bytes; `write` does the same, so files written here are
laid out like nice-flow's own.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Mapping, Tuple

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "U8": np.dtype("u1"),
}
_NAMES = {v: k for k, v in _DTYPES.items()}
# Read only: bfloat16 (NumPy has no such dtype) is read as its 16-bit patterns and widened to float32 exactly.
_READ_DTYPES = {**_DTYPES, "BF16": np.dtype("<u2")}
_MAX_HEADER = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """A file that is not a well-formed safetensors file (the message says what is wrong)."""


def parse(data: bytes, what: str = "safetensors file") -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Tensors (as NumPy arrays, copies) and metadata of a safetensors file held in memory."""
    if len(data) < 8:
        raise SafetensorsError(f"{what}: only {len(data)} bytes, not a safetensors file (truncated)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER:
        raise SafetensorsError(f"{what}: header length {n} is oversized (not a safetensors file?)")
    if 8 + n > len(data):
        raise SafetensorsError(f"{what}: truncated: the header needs {n} bytes, the file has {len(data) - 8} after the length")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SafetensorsError(f"{what}: the header is not valid JSON (not a safetensors file?)") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{what}: the header is not a JSON object")
    body = memoryview(data)[8 + n :]
    metadata = header.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError(f"{what}: __metadata__ must map strings to strings")
    tensors: Dict[str, np.ndarray] = {}
    for name, entry in header.items():
        try:
            dtype = _READ_DTYPES[entry["dtype"]]
            shape = [int(s) for s in entry["shape"]]
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{what}: tensor {name!r} has a malformed or unsupported entry {entry!r}") from None
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= begin <= end <= len(body)) or end - begin != count * dtype.itemsize:
            raise SafetensorsError(f"{what}: tensor {name!r} has offsets [{begin}, {end}) that do not fit its shape {shape} or the file")
        a = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape)
        tensors[name] = (a.astype(np.uint32) << 16).view(np.float32) if entry["dtype"] == "BF16" else a.copy()
    return tensors, dict(metadata)


def read(path: str | os.PathLike) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Tensors and metadata of a safetensors file."""
    with open(path, "rb") as f:
        return parse(f.read(), f"safetensors file {os.fspath(path)}")


def dumps(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """A safetensors file as bytes: tensors in sorted name order, header padded with spaces to 8 bytes."""
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if a.dtype.newbyteorder("<") not in _NAMES:
            raise TypeError(f"tensor {name!r}: dtype {a.dtype} cannot be stored")
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
        raw = a.tobytes()
        header[name] = {"dtype": _NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes bytes to `path` through a temporary file and a rename, so a reader never sees half a file."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write(path: str | os.PathLike, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> None:
    """Writes a safetensors file (atomically)."""
    write_atomic(path, dumps(tensors, metadata))
