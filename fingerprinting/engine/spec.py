"""The one versioned set of parameters that defines a fingerprint.

Every number that changes which hashes a track produces lives here. Changing any
of them changes the hashes, so it must come with a new ``FINGERPRINT_VERSION``:
stored fingerprints of another version are refused, not silently mixed. The
query-side numbers (the query's peaks and targets, multi-probe margins, trial
speeds) live here too; they change what a query looks up, not what is stored, so
changing one needs no new version and no rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass

FINGERPRINT_VERSION = 3

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
    # v3: up to 3.8 kHz (v2: 3 kHz), just under the 4 kHz Nyquist limit of the 8 kHz grid.
    fmax_hz: float = 3800.0
    # Absolute floor on the log power spectrum (dB re full scale): silence has no peaks.
    floor_db: float = -75.0
    # Peak neighbourhoods (frames, bins): stored tracks keep only peaks that dominate a
    # wide area; queries use a smaller one, so they see a superset of the stored
    # peaks even when noise weakens some of them.
    ref_peak_frames: int = 6
    ref_peak_bins: int = 16
    query_peak_frames: int = 5
    query_peak_bins: int = 12
    # Density caps (peaks per second, strongest kept, measured over 1 s blocks of
    # the prominence ranking).
    ref_peaks_per_s: int = 12
    query_peaks_per_s: int = 36
    # Target zone: targets come 1 <= dt <= max_dt frames after the anchor (v3: 60
    # frames, 1.9 s; v2: 40), within max_octaves of it. Stored tracks make triplets
    # from each anchor's fan_out strongest targets; queries (denser peaks) from their
    # query_fan_out strongest, so the stored targets are usually among them.
    min_dt: int = 1
    max_dt: int = 60
    max_octaves: float = 1.0
    fan_out: int = 3
    query_fan_out: int = 8
    # Peak frequency unit (log cells per octave above fmin) and the key's quantisation.
    cells_per_octave: int = 24
    interval_cells_per_octave: int = 32
    anchor_bands_per_octave: int = 6
    ratio_cells: int = 16
    min_span: float = 1.0
    span_cell_ratio: float = 1.08
    # Playback speed handled: +-2 % (pitch and tempo together).
    max_speed_change: float = 0.02
    # Query side: multi-probe margins (fraction of a cell) for band, interval b,
    # interval c, time ratio and span, and the trial speeds votes are counted at.
    # Interval c is not probed (margin 0; it was 0.25): its probes were 35 % of a
    # query's lookups and added 1 found clip of the benchmark's 1,512 (bench/README.md).
    probe_margins: tuple[float, ...] = (0.2, 0.25, 0.0, 0.2, 0.35)
    speeds: tuple[float, ...] = (0.98, 0.985, 0.99, 0.995, 1.0, 1.005, 1.01, 1.015, 1.02)

    @property
    def frame_seconds(self) -> float:
        return self.hop / self.sample_rate


SPEC = FingerprintSpec()
