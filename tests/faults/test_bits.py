"""Bit flips and stuck-at bits agree with a hand computation on the bytes of each value."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

from shakeout.errors import ValidationError
from shakeout.perturb.bits import BIT_WIDTH, dtype_name, field, flip, flip_at, stuck

VALUES = [0.5, -1.25, 3.0e-3, 7.0, -0.0]
INTS = [0, 1, -1, 77, -128]
# struct format of each dtype's value and of the unsigned integer of the same width.
FORMATS = {"float64": ("<d", "<Q"), "float32": ("<f", "<I"), "float16": ("<e", "<H"),
           "int8": ("<b", "<B")}
TORCH = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16,
         "bfloat16": torch.bfloat16, "int8": torch.int8}


def _word(dtype: str, value: float) -> int:
    """The value's bits as an unsigned integer, read with struct (bfloat16: float32's upper half)."""
    if dtype == "bfloat16":
        return struct.unpack("<I", struct.pack("<f", value))[0] >> 16
    vfmt, ufmt = FORMATS[dtype]
    return struct.unpack(ufmt, struct.pack(vfmt, value))[0]


def _by_hand(dtype: str, value: float, bit: int, op: str) -> int:
    """The result's bits (compared as integers: a NaN's payload counts)."""
    word, mask = _word(dtype, value), 1 << bit
    return {"flip": word ^ mask, "stuck0": word & ~mask, "stuck1": word | mask}[op]


def _apply(op: str, values, bit):
    if op == "flip":
        return flip(values, bit)
    return stuck(values, bit, to=int(op[-1]))


def _values(dtype: str) -> list[float]:
    # Values exactly representable in the dtype, so the struct reference starts from the same bits.
    if dtype == "int8":
        return INTS
    return [float(torch.tensor(v, dtype=TORCH[dtype]).float()) for v in VALUES]


def _words(out) -> list[int]:
    """The bits of each element of an array or tensor as unsigned integers."""
    raw = out.contiguous().view(torch.uint8).numpy() if isinstance(out, torch.Tensor) else out
    raw = np.ascontiguousarray(raw).view(np.uint8).reshape(len(out), -1)
    return [int.from_bytes(row.tobytes(), "little") for row in raw]


@pytest.mark.parametrize("op", ["flip", "stuck0", "stuck1"])
@pytest.mark.parametrize("dtype", list(BIT_WIDTH))
def test_every_bit_matches_struct_on_torch_and_numpy(dtype: str, op: str) -> None:
    values = _values(dtype)
    for bit in range(BIT_WIDTH[dtype]):
        want = [_by_hand(dtype, v, bit, op) for v in values]
        t = torch.tensor(values, dtype=TORCH[dtype])
        out = _apply(op, t, bit)
        assert isinstance(out, torch.Tensor) and out.dtype == t.dtype
        assert _words(out) == want, (dtype, op, bit)
        if dtype != "bfloat16":
            arr = np.array(values, dtype=dtype)
            got = _apply(op, arr, bit)
            assert isinstance(got, np.ndarray) and got.dtype == arr.dtype
            assert _words(got) == want, (dtype, op, bit)


def test_input_is_not_modified_and_bits_broadcast_per_element() -> None:
    w = np.array([0.5, 0.5, 0.5], dtype=np.float32)
    out = flip(w, np.array([0, 30, 31]))
    assert w.tolist() == [0.5, 0.5, 0.5]
    assert out[0] == np.nextafter(np.float32(0.5), np.float32(1))
    assert out[1] == np.float32(2.0 ** 127)
    assert out[2] == -0.5
    t = torch.full((2, 3), 0.5)
    assert torch.equal(flip(t, torch.tensor([31, 0, 31])), torch.tensor(flip(np.full((2, 3), 0.5, np.float32),
                                                                              np.array([31, 0, 31]))))
    assert torch.equal(t, torch.full((2, 3), 0.5))


def test_top_exponent_bit_makes_half_huge_and_bit_zero_moves_one_ulp() -> None:
    half = np.float32(0.5)
    assert float(flip(half, 30)) == pytest.approx(1.7e38, rel=0.01)
    assert flip(half, 0) - half == np.spacing(half)
    t = torch.tensor([0.5])
    assert float(flip(t, 30)) == pytest.approx(1.7e38, rel=0.01)


def test_flip_twice_is_identity_and_a_tensor_keeps_its_device_and_shape() -> None:
    t = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    once = flip(t, 17)
    assert not torch.equal(once, t)
    assert torch.equal(flip(once, 17), t) and once.shape == t.shape


def test_field_layout() -> None:
    assert [field("float64", b) for b in (0, 51, 52, 62, 63)] == [
        "mantissa", "mantissa", "exponent", "exponent", "sign"]
    assert [field("float16", b) for b in (9, 10, 14, 15)] == [
        "mantissa", "exponent", "exponent", "sign"]
    assert [field("bfloat16", b) for b in (6, 7, 14, 15)] == [
        "mantissa", "exponent", "exponent", "sign"]
    assert [field("int8", b) for b in (0, 6, 7)] == ["value", "value", "sign"]


def test_bad_input_says_what_and_how() -> None:
    with pytest.raises(ValidationError, match=r"bit 32 is outside a float32 value: valid bits are 0 to 31"):
        flip(np.zeros(2, dtype=np.float32), 32)
    with pytest.raises(ValidationError, match=r"bit -1 is outside a int8 value"):
        stuck(torch.zeros(2, dtype=torch.int8), [0, -1], to=1)
    with pytest.raises(ValidationError, match=r"got int16.*numpy has no bfloat16"):
        dtype_name(np.zeros(2, dtype=np.int16))
    with pytest.raises(ValidationError, match="numpy array or a torch tensor"):
        flip([0.5], 3)
    with pytest.raises(ValidationError, match="to must be 0 or 1"):
        stuck(np.zeros(2), 3, to=2)
    with pytest.raises(ValidationError, match="must be integers"):
        flip(np.zeros(2), 1.5)
    with pytest.raises(ValidationError, match="unknown dtype 'int32'"):
        field("int32", 0)


def test_numpy_scalar_stays_a_scalar_and_ml_dtypes_bfloat16_array_works() -> None:
    out = flip(np.float32(0.5), 31)
    assert isinstance(out, np.float32) and out == -0.5
    ml_dtypes = pytest.importorskip("ml_dtypes")
    arr = np.array([0.5, 1.0], dtype=ml_dtypes.bfloat16)
    assert _words(flip(arr, 15)) == [_word("bfloat16", -0.5), _word("bfloat16", -1.0)]


@pytest.mark.parametrize("dtype", list(BIT_WIDTH))
def test_flip_at_flips_exactly_the_named_bits(dtype: str) -> None:
    width = BIT_WIDTH[dtype]
    values = _values(dtype)[:4]
    positions = [0, width - 1, width + 3, width + 5, 3 * width + width - 2]  # two in element 1
    want = [_word(dtype, v) for v in values]
    for p in positions:
        want[p // width] ^= 1 << (p % width)
    t = torch.tensor(values, dtype=TORCH[dtype]).reshape(2, 2)
    out = flip_at(t, positions)
    assert out.shape == (2, 2) and out.dtype == t.dtype
    assert _words(out.reshape(-1)) == want
    if dtype != "bfloat16":
        assert _words(flip_at(np.array(values, dtype=dtype), positions)) == want
    with pytest.raises(ValidationError, match=rf"bit positions must be in \[0, {4 * width}\)"):
        flip_at(t, [4 * width])
