"""Peaks and hashes are what FINGERPRINT_VERSION 2 stored: the faster spectrogram and
peak search must give the same values to the bit. Version 3 changed only two
parameters of the spec (the target zone and the top frequency), and later the query's
probe margins, so the code that computes them is pinned through version 2's parameters."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft
from scipy.ndimage import maximum_filter

from fingerprinting.engine import SPEC, Index, Matcher, fingerprint
from fingerprinting.engine.peaks import _band, _window, local_maxima, log_spectrogram

from .synth import song

# sha256 of Fingerprint.to_bytes() and of the query's (hashes, anchor times, triplet
# ids) for song(seed, 60 s, 8 kHz) and 10 s of it with seeded noise, computed with
# the engine as it was before the spectrogram and peak search were rewritten
# (commit 84462fa). The same 34 benchmark tracks gave identical fingerprints too.
#
# The query's anchor times are sub-frame interpolated from log10 of the spectrum, and
# numpy's float32 log10 differs in the last bit between machines (its AVX-512 code
# against the one other x86 machines run), so the query digest has one value per kind
# of machine. Each was computed by the pre-rewrite code on such a machine and is
# reproduced by the current code there: the first on the machines of the earlier
# sessions, the second on an AVX2 machine without AVX-512 (84462fa checked out beside the
# current code, same inputs). A change to the code gives neither.
V2_DIGESTS = {
    5: (
        2012,
        "20ca93e7714beb09b61c664f3adf890ed4606b8013b7e697cfa8366b98b3bb3e",
        66067,
        (
            "47dff0fc265fdc641733ce016aa0779b987f3110966ce37f6a24006a32eab157",
            "aa5b67ef6f00abae33edf58e01d91b71274c6bab6d17261431ee5cc5c5df3d92",
        ),
    ),
    6: (
        2008,
        "9be71a6aca22d17eb3dc8a36c03c05f4dce477ca5300de6076689b66aa36c2a0",
        63314,
        (
            "2fddbcb5994c0b9125fd696745b92a16157975bd46649caf817543ee50a7793e",
            "23a4ee8e083bdc42866f7e95b3e7578ddca69f9678bf5fdc0916551b4d3ee0cd",
        ),
    ),
}


# Version 2's parameters, with the query's multi-probe margins as they were then (the
# query has since stopped probing interval c).
V2_SPEC = replace(
    SPEC, version=2, fmax_hz=3000.0, max_dt=40, probe_margins=(0.2, 0.25, 0.25, 0.2, 0.35)
)


@pytest.mark.parametrize("seed", sorted(V2_DIGESTS))
def test_v2_stored_and_query_hashes_are_unchanged(seed):
    n_stored, stored_digest, n_probes, query_digests = V2_DIGESTS[seed]
    samples = song(seed, 60.0, SPEC.sample_rate)
    rng = np.random.default_rng(seed)
    noisy = samples[20 * 8000 : 30 * 8000] + rng.normal(0, 0.05, 80000).astype(np.float32)

    fp = fingerprint(samples, spec=V2_SPEC)
    query = Matcher(Index(), spec=V2_SPEC).hash_query(noisy)

    assert len(fp) == n_stored
    assert hashlib.sha256(fp.to_bytes()).hexdigest() == stored_digest
    assert query.hashes.size == n_probes
    probes = (
        query.hashes.astype("<u4").tobytes()
        + query.anchor_time.astype("<f8").tobytes()
        + query.triplet_id.astype("<i8").tobytes()
    )
    assert hashlib.sha256(probes).hexdigest() in query_digests


def whole_track_spectrogram(samples: np.ndarray) -> np.ndarray:
    """The spectrogram as one pass over the whole track (the code before blocks)."""
    lo, hi = _band(SPEC)
    if samples.size < SPEC.n_fft:
        return np.zeros((0, hi - lo), dtype=np.float32)
    frames = sliding_window_view(samples.astype(np.float32), SPEC.n_fft)[:: SPEC.hop]
    window = _window(SPEC.n_fft)
    spectrum = sp_fft.rfft(frames * window, axis=1, workers=1)[:, lo:hi]
    power = spectrum.real**2 + spectrum.imag**2
    power *= 4.0 / float(window.sum()) ** 2
    return (10.0 * np.log10(power + 1e-12)).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.2, 0.3, 2.05, 47.3])
def test_spectrogram_in_blocks_equals_the_whole_track_pass(seconds):
    rng = np.random.default_rng(int(seconds * 100))
    samples = song(7, seconds, SPEC.sample_rate) + rng.normal(0, 0.01, int(seconds * 8000))

    blocks = log_spectrogram(samples.astype(np.float32), SPEC)

    assert blocks.dtype == np.float32
    assert np.array_equal(blocks, whole_track_spectrogram(samples))


def maximum_filter_peaks(power, frames, bins, floor_db):
    neighbourhood = maximum_filter(power, size=(2 * frames + 1, 2 * bins + 1), mode="nearest")
    is_peak = (power == neighbourhood) & (power > floor_db)
    is_peak[0, :] = is_peak[-1, :] = False
    is_peak[:, 0] = is_peak[:, -1] = False
    return np.nonzero(is_peak)


@pytest.mark.parametrize(
    ("shape", "frames", "bins", "ties"),
    [
        ((700, 731), 6, 16, False),  # stored tracks' neighbourhood
        ((311, 731), 5, 12, False),  # queries'
        ((300, 90), 5, 12, True),  # plateaus: equal neighbours are all maxima
        ((129, 40), 6, 16, True),  # a block boundary, narrower than the window
        ((3, 731), 6, 16, False),
        ((1000, 5), 0, 0, True),
        ((400, 64), 20, 40, False),
    ],
)
def test_local_maxima_equal_scipys_maximum_filter(shape, frames, bins, ties):
    rng = np.random.default_rng(shape[0] + bins)
    power = rng.normal(-60.0, 10.0, shape).astype(np.float32)
    if ties:
        power = np.round(power / 8.0) * 8.0

    t_idx, f_idx = local_maxima(power, frames, bins, SPEC.floor_db)

    expected_t, expected_f = maximum_filter_peaks(power, frames, bins, SPEC.floor_db)
    assert expected_t.size > 0 or shape[0] < 3
    assert np.array_equal(t_idx, expected_t)
    assert np.array_equal(f_idx, expected_f)


def test_local_maxima_of_a_real_spectrogram_equal_scipys():
    power = log_spectrogram(song(8, 30.0, SPEC.sample_rate), SPEC)
    for frames, bins in (
        (SPEC.ref_peak_frames, SPEC.ref_peak_bins),
        (SPEC.query_peak_frames, SPEC.query_peak_bins),
    ):
        t_idx, f_idx = local_maxima(power, frames, bins, SPEC.floor_db)
        expected_t, expected_f = maximum_filter_peaks(power, frames, bins, SPEC.floor_db)
        assert t_idx.size > 100
        assert np.array_equal(t_idx, expected_t)
        assert np.array_equal(f_idx, expected_f)
