"""Bit arithmetic on numpy arrays and torch tensors: flip a bit, force it to 0 or 1.

The value is read through an integer view of the same width (no ``struct``, no Python loop),
so a flip touches exactly one bit of the stored number, as a hardware upset does. Bit 0 is
the least significant. Layouts (IEEE 754; bfloat16 is float32's upper half):

========  =====  ========  ==========  ==========
dtype     width  sign      exponent    mantissa
========  =====  ========  ==========  ==========
float64   64     63        52-62       0-51
float32   32     31        23-30       0-22
float16   16     15        10-14       0-9
bfloat16  16     15        7-14        0-6
int8      8      7 (sign)  value 0-6   (two's complement)
========  =====  ========  ==========  ==========

numpy has no bfloat16 of its own: a bfloat16 tensor is a torch tensor (or a numpy array of
``ml_dtypes.bfloat16``, which this module also takes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shakeout.errors import ValidationError

BIT_WIDTH: dict[str, int] = {"float64": 64, "float32": 32, "float16": 16, "bfloat16": 16,
                             "int8": 8}

# (first exponent bit, first sign bit) per dtype; the mantissa is below the exponent.
_LAYOUT: dict[str, tuple[int, int]] = {"float64": (52, 63), "float32": (23, 31),
                                       "float16": (10, 15), "bfloat16": (7, 15),
                                       "int8": (7, 7)}
_NUMPY_UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def _is_tensor(values: Any) -> bool:
    return type(values).__module__.startswith("torch") and hasattr(values, "dtype") \
        and hasattr(values, "view")


def dtype_name(values: Any) -> str:
    """The name of ``values``' element type, a key of :data:`BIT_WIDTH`.

    >>> import torch
    >>> dtype_name(np.zeros(3, dtype=np.float16)), dtype_name(torch.zeros(3, dtype=torch.bfloat16))
    ('float16', 'bfloat16')
    >>> dtype_name(np.zeros(3, dtype=np.int32))
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: bit faults take float64, float32, float16, bfloat16, int8 \
values, got int32. Cast the array to one of them (bfloat16 only as a torch tensor: numpy has no \
bfloat16).
    """
    if _is_tensor(values):
        name = str(values.dtype).removeprefix("torch.")
    elif isinstance(values, (np.ndarray, np.generic)):
        name = values.dtype.name
    else:
        raise ValidationError(
            f"bit faults take a numpy array or a torch tensor, got {type(values).__name__}. "
            "Convert it with np.asarray(values, dtype=np.float32)."
        )
    if name not in BIT_WIDTH:
        raise ValidationError(
            f"bit faults take {', '.join(BIT_WIDTH)} values, got {name}. Cast the array to one "
            "of them (bfloat16 only as a torch tensor: numpy has no bfloat16)."
        )
    return name


def _check_dtype(dtype: str) -> str:
    if dtype not in BIT_WIDTH:
        raise ValidationError(f"unknown dtype {dtype!r}; bit faults know {', '.join(BIT_WIDTH)}.")
    return dtype


def _check_bits(dtype: str, bits: Any) -> None:
    width = BIT_WIDTH[dtype]
    arr = bits.detach().cpu().numpy() if _is_tensor(bits) else np.asarray(bits)
    if arr.dtype.kind not in "iu":
        raise ValidationError(f"bit positions must be integers, got {bits!r}.")
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= width):
        bad = arr[(arr < 0) | (arr >= width)].ravel()[0]
        raise ValidationError(
            f"bit {int(bad)} is outside a {dtype} value: valid bits are 0 to {width - 1} "
            "(0 is the least significant)."
        )


def field(dtype: str, bit: int) -> str:
    """Which part of a ``dtype`` value bit ``bit`` belongs to: "sign", "exponent" or
    "mantissa" (int8: "sign" or "value").

    >>> [field("float32", b) for b in (0, 22, 23, 30, 31)]
    ['mantissa', 'mantissa', 'exponent', 'exponent', 'sign']
    >>> field("int8", 7), field("int8", 3)
    ('sign', 'value')
    >>> field("float16", 16)
    Traceback (most recent call last):
    ...
    shakeout.errors.ValidationError: bit 16 is outside a float16 value: valid bits are 0 to 15 \
(0 is the least significant).
    """
    _check_dtype(dtype)
    _check_bits(dtype, bit)
    exponent, sign = _LAYOUT[dtype]
    if bit == sign:
        return "sign"
    if dtype == "int8":
        return "value"
    return "exponent" if bit >= exponent else "mantissa"


def _masks(values: Any, dtype: str, bits: Any) -> tuple[Any, Any]:
    """``(integer view of a copy of values, mask with bit ``bits`` set)``, broadcastable."""
    _check_bits(dtype, bits)
    width = BIT_WIDTH[dtype]
    if _is_tensor(values):
        import torch

        signed = {8: torch.int8, 16: torch.int16, 32: torch.int32, 64: torch.int64}[width]
        # 1 << (width - 1) does not fit a signed integer of that width: its pattern is -2^(w-1).
        table = torch.tensor([(1 << b) - ((1 << width) if b == width - 1 else 0)
                              for b in range(width)], dtype=signed, device=values.device)
        index = (bits.long() if _is_tensor(bits)
                 else torch.as_tensor(np.asarray(bits), dtype=torch.long))
        return values.detach().clone().view(signed), table[index.to(values.device)]
    unsigned = _NUMPY_UINT[width]
    table = np.array([1 << b for b in range(width)], dtype=unsigned)
    return np.array(values, copy=True).view(unsigned), table[np.asarray(bits)]


def _same_kind(values: Any, ints: Any) -> Any:
    if _is_tensor(values):
        return ints.view(values.dtype)
    out = ints.view(values.dtype)
    return out[()] if isinstance(values, np.generic) else out


def flip(values: Any, bits: Any) -> Any:
    """A copy of ``values`` with bit ``bits`` flipped in every element.

    ``bits`` is one position or an integer array broadcast against ``values`` (a position per
    element). Works on numpy arrays and torch tensors of every dtype in :data:`BIT_WIDTH`;
    returns the same type and dtype.

    >>> w = np.array([0.5, 0.5], dtype=np.float32)
    >>> flip(w, 30)            # the top exponent bit: 0.5 becomes 2^127
    array([1.7014118e+38, 1.7014118e+38], dtype=float32)
    >>> flip(w, [31, 0])       # the sign; the lowest mantissa bit (one ulp)
    array([-0.5       ,  0.50000006], dtype=float32)
    >>> flip(np.array([1, -1], dtype=np.int8), 7)
    array([-127,  127], dtype=int8)
    """
    dtype = dtype_name(values)
    ints, mask = _masks(values, dtype, bits)
    return _same_kind(values, set_bits(ints, mask, "flip"))


def stuck(values: Any, bits: Any, to: int) -> Any:
    """A copy of ``values`` with bit ``bits`` forced to ``to`` (0 or 1): a stuck-at fault.

    >>> stuck(np.array([0.5, -0.5], dtype=np.float32), 31, to=0)
    array([0.5, 0.5], dtype=float32)
    >>> stuck(np.array([1.0, 2.0], dtype=np.float16), 14, to=1)   # top exponent bit set
    array([inf,  2.], dtype=float16)
    """
    if to not in (0, 1) or isinstance(to, float):
        raise ValidationError(f"stuck: to must be 0 or 1, got {to!r}.")
    dtype = dtype_name(values)
    ints, mask = _masks(values, dtype, bits)
    return _same_kind(values, set_bits(ints, mask, f"stuck_at_{to}"))


def flip_at(values: Any, positions: Any) -> Any:
    """A copy of ``values`` with the bits at flat bit ``positions`` flipped: position ``p`` is
    bit ``p % width`` of element ``p // width`` (elements in C order). Several bits of one
    element may flip; positions are distinct (a repeated one flips once).

    >>> w = np.array([0.5, 0.5], dtype=np.float32)
    >>> flip_at(w, [31, 32 + 30, 32 + 31])    # element 0's sign; element 1's top two bits
    array([-5.0000000e-01, -1.7014118e+38], dtype=float32)
    """
    dtype = dtype_name(values)
    width = BIT_WIDTH[dtype]
    positions = np.asarray(positions, dtype=np.int64).ravel()
    total = int(np.prod(values.shape, dtype=np.int64)) * width
    if positions.size and (positions.min() < 0 or positions.max() >= total):
        raise ValidationError(
            f"flip_at: bit positions must be in [0, {total}) for {total // width} {dtype} "
            f"values, got {int(positions.min())} to {int(positions.max())}.")
    elements, inverse = np.unique(positions // width, return_inverse=True)
    masks = np.zeros(len(elements), dtype=_NUMPY_UINT[width])
    np.bitwise_or.at(masks, inverse, np.left_shift(np.uint64(1), (positions % width).astype(
        np.uint64)).astype(masks.dtype))
    if _is_tensor(values):
        import torch

        ints, _ = _masks(values.contiguous(), dtype, 0)
        flat = ints.view(-1)
        index = torch.from_numpy(elements).to(values.device)
        flat[index] ^= torch.from_numpy(masks.view(f"i{width // 8}")).to(values.device)
        return flat.view(values.dtype).view(values.shape)
    ints, _ = _masks(np.ascontiguousarray(values), dtype, 0)
    flat = ints.reshape(-1)
    flat[elements] ^= masks
    return _same_kind(values, flat.reshape(np.shape(values)))


def set_bits(words: Any, mask: Any, kind: str) -> Any:
    """``words`` with the bits set in ``mask`` flipped (``kind="flip"``) or forced to 0 or 1
    (``"stuck_at_0"``, ``"stuck_at_1"``): integers, numpy integer arrays or torch integer
    tensors alike, so an injector can change one stored word without building an array.

    >>> set_bits(0b1010, 0b0110, "flip"), set_bits(0b1010, 0b0010, "stuck_at_0")
    (12, 8)
    """
    if kind == "flip":
        return words ^ mask
    if kind == "stuck_at_1":
        return words | mask
    if kind == "stuck_at_0":
        return words & ~mask
    raise ValidationError(f"unknown bit fault {kind!r}; use flip, stuck_at_0 or stuck_at_1.")
