"""The one versioned set of parameters that defines a fingerprint.

Every number that changes which hashes a track produces lives here. Changing any
of them changes the hashes, so it must come with a new ``FINGERPRINT_VERSION``:
stored fingerprints of another version are refused, not silently mixed.
"""

from __future__ import annotations

from dataclasses import dataclass

FINGERPRINT_VERSION = 1

# Queries shorter than this are refused: below it too few hashes survive a radio
# chain to tell a match from chance.
MIN_QUERY_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class FingerprintSpec:
    version: int = FINGERPRINT_VERSION
    sample_rate: int = 8000
    n_fft: int = 2048
    hop: int = 256
    fmin_hz: float = 150.0
    fmax_hz: float = 3000.0
    # Absolute floor on the log power spectrum (dB re full scale): silence has no peaks.
    floor_db: float = -75.0
    # Peak neighbourhoods (frames, bins): stored tracks keep only peaks that dominate a
    # wide area; queries use a smaller one, so they see a superset of the stored
    # peaks even when noise weakens some of them.
    ref_peak_frames: int = 9
    ref_peak_bins: int = 24
    query_peak_frames: int = 5
    query_peak_bins: int = 12
    # Density caps (peaks per second, strongest kept, measured over 1 s blocks of
    # the prominence ranking).
    ref_peaks_per_s: int = 12
    query_peaks_per_s: int = 24
    # Target zone: pairs (anchor, target) with 1 <= dt <= max_dt frames and
    # |log2(f2/f1)| <= max_octaves. Stored tracks keep the fan_out nearest targets.
    min_dt: int = 1
    max_dt: int = 40
    max_octaves: float = 1.0
    fan_out: int = 2
    # Hash quantisation: log-frequency cells per octave, and dt cell width in frames.
    cells_per_octave: int = 24
    dt_cell: float = 1.0
    # Query side: trial speeds and multi-probe margin (fraction of a cell).
    speeds: tuple[float, ...] = (0.98, 0.99, 1.0, 1.01, 1.02)
    probe_margin: float = 0.25

    @property
    def frame_seconds(self) -> float:
        return self.hop / self.sample_rate


SPEC = FingerprintSpec()
