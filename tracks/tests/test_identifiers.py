"""ISRC and ISWC validation tables."""

from __future__ import annotations

import pytest

from tracks.services import isrc_normalise, iswc_check_digit, iswc_normalise
from zamio.errors import ValidationFailed


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("GH-A01-24-00001", "GHA012400001"),
        ("gh-a01-24-00001", "GHA012400001"),
        ("GHA012400001", "GHA012400001"),
        ("US-RC1-76-07839", "USRC17607839"),
        (" QM-ZZ1-99-12345 ", "QMZZ19912345"),
        ("", ""),
    ],
)
def test_isrc_accepted(given, stored):
    assert isrc_normalise(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "GH-A01-24-0001",  # designation too short
        "GH-A01-24-000001",  # too long
        "G1-A01-24-00001",  # country code with a digit
        "GH-A0!-24-00001",  # registrant not alphanumeric
        "GH-A01-2X-00001",  # year not digits
        "GH-A01-24-0000A",  # designation not digits
        "GHA-01-24-00001",  # hyphens in the wrong places
        "GH A01 24 00001",
        "not an isrc",
    ],
)
def test_isrc_refused(given):
    with pytest.raises(ValidationFailed) as refused:
        isrc_normalise(given)
    assert list(refused.value.details) == ["isrc"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("T-034.524.680-1", "T0345246801"),
        ("T-345.246.800-3", "T3452468003"),
        ("t0345246801", "T0345246801"),
        ("T-000.000.001-0", "T0000000010"),
        ("", ""),
    ],
)
def test_iswc_accepted(given, stored):
    assert iswc_normalise(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "T-034.524.680-2",  # wrong check digit
        "T-034.524.68-1",  # eight digits
        "X-034.524.680-1",  # must start with T
        "T-034.524.680",  # no check digit
        "0345246801",
    ],
)
def test_iswc_refused(given):
    with pytest.raises(ValidationFailed) as refused:
        iswc_normalise(given)
    assert list(refused.value.details) == ["iswc"]


def test_iswc_check_digit_matches_the_published_example():
    # CISAC's example work T-034.524.680-1.
    assert iswc_check_digit("034524680") == 1
