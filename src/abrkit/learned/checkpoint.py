"""A reader of TensorFlow's V2 checkpoints ("tensor bundles"), without TensorFlow.

A checkpoint ``PREFIX`` is two files that matter here:

* ``PREFIX.index``: a LevelDB-style sorted table. The file ends with a 48-byte footer: two
  block handles (metaindex, index; each a varint64 offset and a varint64 size), zero padding
  to 40 bytes, then the 8-byte magic number. Every block is a run of prefix-compressed entries
  (varint32 shared key bytes, varint32 new key bytes, varint32 value length, the new key bytes,
  the value), then an array of uint32 restart offsets and their count; after the block come
  one compression-type byte (0: none) and a masked CRC-32C of block + type byte. The index
  block maps keys to the handles of the data blocks. The entry with the empty key is the
  bundle header; every other key is a tensor name whose value is a ``BundleEntryProto``
  (dtype, shape, shard, offset, size, masked CRC-32C of the tensor's bytes).
* ``PREFIX.data-00000-of-00001``: the tensors' raw little-endian bytes at those offsets.

Only what the entries need is decoded: a protobuf varint / length-delimited walker, no
protobuf dependency. Every problem is a :class:`~abrkit.errors.ModelFormatError` naming the
file and what is wrong.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from ..errors import ModelFormatError

__all__ = ["TensorInfo", "Checkpoint", "read_checkpoint", "crc32c", "masked_crc32c"]

_FOOTER_BYTES = 48
_MAGIC = 0xDB4775248B80FB57  # LevelDB's table magic number, stored little-endian
_TRAILER_BYTES = 5  # compression type + masked crc
_MASK_DELTA = 0xA282EAD8

#: TensorFlow DataType enum -> NumPy little-endian dtype (the types a weight file may hold).
_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "|u1", 6: "|i1", 9: "<i8", 10: "|b1", 19: "<f2"}


# -- CRC-32C (Castagnoli), table-driven ----------------------------------------------------------


def _crc_table() -> np.ndarray:
    poly = 0x82F63B78  # reflected Castagnoli polynomial
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = [int(x) for x in _crc_table()]


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (pure Python: about 5 MB/s, enough for a few weight tensors)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The CRC as LevelDB and TensorFlow store it: rotated right by 15 bits plus a constant
    (so that a CRC of data that holds CRCs does not degenerate)."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


# -- protobuf wire format and varints --------------------------------------------------------------


def _varint(buf: bytes, pos: int, path: Path, what: str) -> tuple[int, int]:
    """(value, next position) of the varint at ``pos``."""
    value = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ModelFormatError(path, f"{what}: a varint runs past the end of its data")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ModelFormatError(path, f"{what}: a varint is longer than 10 bytes")


def _fields(buf: bytes, path: Path, what: str) -> list[tuple[int, int | bytes]]:
    """(field number, value) of every field of a protobuf message: an int for varint and
    fixed-width fields, bytes for length-delimited ones."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos, path, what)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, path, what)
            out.append((number, value))
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if pos + width > len(buf):
                raise ModelFormatError(path, f"{what}: a fixed-width field runs past the end")
            out.append((number, int.from_bytes(buf[pos : pos + width], "little")))
            pos += width
        elif wire == 2:
            n, pos = _varint(buf, pos, path, what)
            if pos + n > len(buf):
                raise ModelFormatError(path, f"{what}: a length-delimited field runs past the end")
            out.append((number, buf[pos : pos + n]))
            pos += n
        else:
            raise ModelFormatError(path, f"{what}: unsupported protobuf wire type {wire}")
    return out


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives in the data file: ``dtype`` (NumPy), ``shape``, byte ``offset``
    and ``size`` in shard ``shard``, and the masked CRC-32C of its bytes (None if absent)."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int | None


def _entry(name: str, value: bytes, path: Path) -> TensorInfo:
    what = f"entry {name!r}"
    dtype_code, shard, offset, size, crc = 0, 0, 0, 0, None
    shape: list[int] = []
    for number, v in _fields(value, path, what):
        if number == 1:
            dtype_code = int(v)  # type: ignore[arg-type]
        elif number == 2:
            for dn, dv in _fields(bytes(v), path, what):  # type: ignore[arg-type]
                if dn == 2:  # TensorShapeProto.dim
                    dims = dict(_fields(bytes(dv), path, what))  # type: ignore[arg-type]
                    shape.append(int(dims.get(1, 0)))  # type: ignore[arg-type]
        elif number == 3:
            shard = int(v)  # type: ignore[arg-type]
        elif number == 4:
            offset = int(v)  # type: ignore[arg-type]
        elif number == 5:
            size = int(v)  # type: ignore[arg-type]
        elif number == 6:
            crc = int(v)  # type: ignore[arg-type]
        elif number == 7:
            raise ModelFormatError(path, f"{what}: partitioned (sliced) tensors are not supported")
    if dtype_code not in _DTYPES:
        raise ModelFormatError(path, f"{what}: unsupported TensorFlow dtype {dtype_code}")
    dtype = np.dtype(_DTYPES[dtype_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != expected:
        raise ModelFormatError(path, f"{what}: size {size} bytes does not match shape {tuple(shape)} of {dtype}")
    return TensorInfo(name, dtype, tuple(shape), shard, offset, size, crc)


# -- the sorted table ---------------------------------------------------------------------------------


def _block(buf: bytes, offset: int, size: int, path: Path, what: str) -> bytes:
    """The contents of the block at ``offset`` (``size`` bytes, trailer after), CRC checked."""
    end = offset + size + _TRAILER_BYTES
    if offset < 0 or size < 4 or end > len(buf):
        raise ModelFormatError(path, f"{what} block (offset {offset}, {size} bytes) lies outside the file ({len(buf)} bytes): truncated?")
    contents = buf[offset : offset + size]
    kind = buf[offset + size]
    if kind != 0:
        raise ModelFormatError(path, f"{what} block is compressed (type {kind}); only uncompressed tables are supported")
    (stored,) = struct.unpack_from("<I", buf, offset + size + 1)
    if masked_crc32c(buf[offset : offset + size + 1]) != stored:
        raise ModelFormatError(path, f"{what} block at offset {offset}: checksum mismatch (corrupt file)")
    return contents


def _block_entries(block: bytes, path: Path, what: str) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a block, keys rebuilt from their shared prefixes."""
    if len(block) < 4:
        raise ModelFormatError(path, f"{what} block is too short")
    (n_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    data_end = len(block) - 4 - 4 * n_restarts
    if data_end < 0:
        raise ModelFormatError(path, f"{what} block: {n_restarts} restart points do not fit in {len(block)} bytes")
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    key = b""
    while pos < data_end:
        shared, pos = _varint(block, pos, path, what)
        fresh, pos = _varint(block, pos, path, what)
        n_value, pos = _varint(block, pos, path, what)
        if shared > len(key) or pos + fresh + n_value > data_end:
            raise ModelFormatError(path, f"{what} block: an entry at byte {pos} is malformed")
        key = key[:shared] + block[pos : pos + fresh]
        pos += fresh
        out.append((key, block[pos : pos + n_value]))
        pos += n_value
    return out


def _handle(buf: bytes, pos: int, path: Path, what: str) -> tuple[int, int, int]:
    offset, pos = _varint(buf, pos, path, what)
    size, pos = _varint(buf, pos, path, what)
    return offset, size, pos


def read_index(path: str | PathLike[str]) -> dict[str, TensorInfo]:
    """Every tensor entry of a checkpoint's ``.index`` file, by name."""
    p = Path(path)
    try:
        buf = p.read_bytes()
    except OSError as exc:
        raise ModelFormatError(p, f"cannot read the checkpoint index: {exc.strerror or exc}") from None
    if len(buf) < _FOOTER_BYTES:
        raise ModelFormatError(p, f"{len(buf)} bytes is shorter than the {_FOOTER_BYTES}-byte table footer: truncated or not a checkpoint index")
    footer = buf[-_FOOTER_BYTES:]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_BYTES - 8)
    if magic != _MAGIC:
        raise ModelFormatError(p, f"bad magic number 0x{magic:016x} (expected 0x{_MAGIC:016x}): truncated or not a TensorFlow checkpoint index")
    _, _, pos = _handle(footer, 0, p, "footer")  # the metaindex block (filters): not needed
    index_offset, index_size, _ = _handle(footer, pos, p, "footer")
    entries: dict[str, TensorInfo] = {}
    for _, handle in _block_entries(_block(buf, index_offset, index_size, p, "index"), p, "index"):
        offset, size, _ = _handle(handle, 0, p, "index entry")
        for key, value in _block_entries(_block(buf, offset, size, p, "data"), p, "data"):
            if key == b"":
                continue  # the bundle header (shard count, endianness, version)
            name = key.decode("utf-8", errors="replace")
            entries[name] = _entry(name, value, p)
    return entries


@dataclass(frozen=True)
class Checkpoint:
    """An opened checkpoint: its tensor entries and the path of its (single) data shard."""

    prefix: Path
    entries: dict[str, TensorInfo]

    @property
    def data_path(self) -> Path:
        return self.prefix.with_name(self.prefix.name + ".data-00000-of-00001")

    def tensor(self, name: str, shape: tuple[int, ...] | None = None, verify_crc: bool = True) -> np.ndarray:
        """Tensor ``name`` as a NumPy array (native byte order), its size checked against the
        data file and, with ``verify_crc``, its bytes against the entry's CRC-32C; ``shape``,
        if given, must match the stored one (another architecture otherwise)."""
        info = self.entries.get(name)
        index_path = self.prefix.with_name(self.prefix.name + ".index")
        if info is None:
            raise ModelFormatError(index_path, f"missing tensor {name!r} (the checkpoint holds {len(self.entries)} others)")
        if shape is not None and info.shape != tuple(shape):
            raise ModelFormatError(index_path, f"tensor {name!r} has shape {info.shape}, expected {tuple(shape)}: another architecture?")
        if info.shard != 0:
            raise ModelFormatError(index_path, f"tensor {name!r} is in shard {info.shard}; only single-shard checkpoints are supported")
        data = self.data_path
        try:
            with open(data, "rb") as f:
                f.seek(info.offset)
                raw = f.read(info.size)
        except OSError as exc:
            raise ModelFormatError(data, f"cannot read the checkpoint data: {exc.strerror or exc}") from None
        if len(raw) != info.size:
            raise ModelFormatError(data, f"tensor {name!r} needs bytes {info.offset}..{info.offset + info.size}, the file ends at {info.offset + len(raw)}: truncated")
        if verify_crc and info.crc is not None and masked_crc32c(raw) != info.crc:
            raise ModelFormatError(data, f"tensor {name!r}: checksum mismatch (corrupt data file)")
        return np.frombuffer(raw, dtype=info.dtype).reshape(info.shape).astype(info.dtype.newbyteorder("="))


def read_checkpoint(prefix: str | PathLike[str]) -> Checkpoint:
    """Open the checkpoint ``prefix`` (``prefix.index`` and ``prefix.data-00000-of-00001``)."""
    p = Path(prefix)
    return Checkpoint(p, read_index(p.with_name(p.name + ".index")))
