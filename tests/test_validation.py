"""Tests for the shared argument checks: message format, missing values, NumPy types."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symhard._validation import (
    MAX_LISTED_ENTRIES,
    InvalidParameterError,
    check_choice,
    check_float,
    check_int,
    invalid,
    missing,
    value_text,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.uint8(2), "2"),
        (np.int64(-3), "-3"),
        (np.float64(0.5), "0.5"),
        (np.bool_(True), "True"),
        (torch.tensor(3), "3"),
        (np.dtype("<U1"), "'<U1'"),
        (torch.float32, "'torch.float32'"),
        ((np.int64(1), np.float32(2.5)), "(1, 2.5)"),
        ([np.uint8(0), [np.int16(4)]], "[0, [4]]"),
        ({"n": np.int32(7)}, "{'n': 7}"),
        (np.array([1, 2], dtype=np.uint8), "[1, 2]"),
        (torch.Size([3, 4]), "(3, 4)"),
        ("text", "'text'"),
        (None, "None"),
    ],
)
def test_value_text_plain_python(value, expected):
    assert value_text(value) == expected


def test_value_text_large_array_described():
    array = np.zeros((3, MAX_LISTED_ENTRIES))
    assert value_text(array) == (
        f"an array of shape (3, {MAX_LISTED_ENTRIES}) and dtype float64"
    )


def test_value_text_large_tensor_described():
    tensor = torch.zeros(MAX_LISTED_ENTRIES + 1, dtype=torch.int64)
    text = value_text(tensor)
    assert (
        text == f"an array of shape ({MAX_LISTED_ENTRIES + 1},) and dtype torch.int64"
    )


def test_invalid_numpy_scalar_plain():
    error = invalid("adj", "entries 0 or 1", np.uint8(2))
    assert str(error) == "invalid value for 'adj': expected entries 0 or 1, got 2"


def test_invalid_message_has_no_numpy_repr():
    error = invalid("x", "a finite number", np.float64("nan"))
    assert "np." not in str(error)


def test_missing_message_format():
    error = missing("d", "an integer >= 2")
    assert isinstance(error, InvalidParameterError)
    assert str(error) == "missing value for 'd': expected an integer >= 2"


def test_check_int_none_is_missing():
    with pytest.raises(
        InvalidParameterError,
        match=r"^missing value for 'k': expected an integer in \[1, n=5\]$",
    ):
        check_int("k", None, low=1, high=5, high_text="n=5")


def test_check_float_none_is_missing():
    with pytest.raises(
        InvalidParameterError, match=r"^missing value for 'tau': expected a number > 0$"
    ):
        check_float("tau", None, low=0.0, low_open=True)


def test_check_choice_none_is_missing():
    with pytest.raises(
        InvalidParameterError, match=r"^missing value for 'lift': expected one of a, b$"
    ):
        check_choice("lift", None, ["a", "b"])


def test_check_float_nan_numpy_plain():
    with pytest.raises(InvalidParameterError, match=r"got nan$"):
        check_float("tau", np.float64("nan"), low=0.0)


def test_check_int_numpy_value_kept():
    assert check_int("n", np.int64(4), low=1) == 4
