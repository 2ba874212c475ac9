"""The quantity solver behind every exposure-like limit, on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from core.risk._bounds import abs_linear_max, band_max


@pytest.mark.parametrize(
    "a,b,c,limit,hi,expected",
    [
        (0.0, 100.0, 0.0, 5_000.0, 30.0, 30.0),  # inside the limit: all of it
        (0.0, 100.0, 0.0, 5_000.0, 80.0, 50.0),  # from flat: up to the limit
        (3_000.0, 100.0, 0.0, 5_000.0, 80.0, 20.0),  # adding to a long
        (8_000.0, 100.0, 0.0, 5_000.0, 10.0, 0.0),  # adding to an oversized long: nothing
        (8_000.0, -100.0, 0.0, 5_000.0, 200.0, 130.0),  # flip: close 80 then at most 50 short
        (8_000.0, -100.0, 0.0, 5_000.0, 20.0, 20.0),  # still approaching the limit from outside
        (8_000.0, -100.0, 6_000.0, 10_000.0, 200.0, 120.0),  # others' 6,000 leave room for 4,000
        (8_000.0, -100.0, 12_000.0, 10_000.0, 200.0, 80.0),  # others alone breach: improve as far as flat
    ],
)
def test_abs_linear_max_by_hand(a, b, c, limit, hi, expected):
    assert abs_linear_max(a, b, c, limit, hi) == pytest.approx(expected)


def test_band_max_agrees_with_the_closed_form_on_linear_cases():
    for a, b, c, limit, hi in [(0.0, 100.0, 0.0, 5_000.0, 80.0), (8_000.0, -100.0, 0.0, 5_000.0, 200.0), (8_000.0, -100.0, 12_000.0, 10_000.0, 200.0)]:
        assert band_max(lambda q, a=a, b=b, c=c: abs(a + b * q) + c, limit, hi) == pytest.approx(abs_linear_max(a, b, c, limit, hi), rel=1e-6)


def test_band_max_on_a_curved_convex_function():
    # f(q) = sqrt(1 + (q - 3)^2): f <= 2 on [3 - sqrt(3), 3 + sqrt(3)].
    def f(q):
        return math.sqrt(1 + (q - 3) ** 2)

    assert band_max(f, 2.0, 10.0) == pytest.approx(3 + math.sqrt(3), rel=1e-9)
    assert band_max(f, 2.0, 1.0) == 1.0  # approaching from outside (f(0) = 3.16 > 2)
    assert band_max(f, 0.5, 10.0) == pytest.approx(3.0, abs=1e-6)  # unreachable: stop at the minimum
