"""Fingerprinting benchmark: recall under broadcast degradations, false matches, speed, memory.

    python bench/fingerprint.py [--quick]

Fetches (once, into bench/data/, git-ignored) the Debian packages
``nexuiz-music`` (18 Ogg tracks inside data/music.pk3, a zip) and
``singularity-music`` (16 Ogg tracks) with ``apt-get download`` + ``dpkg -x``,
and makes speech with ``espeak-ng`` (``apt-get install espeak-ng`` if missing;
needs root). Writes a table to stdout and bench/results/fingerprint.json.
"""

from __future__ import annotations

import os

# Per-core figures: numpy/scipy must not spread work over threads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.signal import resample_poly  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fingerprinting.engine import (  # noqa: E402
    FINGERPRINT_VERSION,
    SPEC,
    Fingerprint,
    Index,
    Matcher,
    decode,
    fingerprint,
)
from fingerprinting.engine.decode import ffmpeg_binary  # noqa: E402
from fingerprinting.engine.hashing import layout, xxh32_u32  # noqa: E402

DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "results" / "fingerprint.json"
PACKAGES = ("nexuiz-music", "singularity-music")
RATE = 44100  # the "broadcast" rate degradations are made at
SPEECH_TEXT = [
    "Good morning Accra, you are listening to the breakfast show, stay with us.",
    "That was a fantastic tune. Coming up after the news, more music and your calls.",
    "Traffic update: the motorway is busy this morning, take the ring road instead.",
    "Call us now and win two tickets to the concert this weekend at the stadium.",
    "The weather today is sunny with a light breeze, thirty one degrees this afternoon.",
    "Send your requests by text message, and we will play them right after the break.",
    "Welcome back to the drive time show, here is a brand new song from a local artist.",
    "Our sponsors keep this station on the air. Thank you for listening, every day.",
]


# -- data ---------------------------------------------------------------------------------


def fetch_music() -> list[Path]:
    """Download and unpack the two Debian music packages into bench/data/ (once)."""
    music = DATA / "music"
    if not music.exists() or not any(music.glob("*.ogg")):
        debs = DATA / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        print(f"fetching {', '.join(PACKAGES)} with apt-get download", file=sys.stderr)
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=debs, check=True)
        root = DATA / "root"
        for deb in sorted(debs.glob("*.deb")):
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        music.mkdir(parents=True, exist_ok=True)
        for pk3 in root.rglob("*.pk3"):
            with zipfile.ZipFile(pk3) as archive:
                for member in archive.namelist():
                    if member.endswith(".ogg"):
                        (music / ("nexuiz-" + Path(member).name)).write_bytes(archive.read(member))
        for ogg in root.rglob("*.ogg"):
            (music / ("singularity-" + ogg.name.replace(" ", "_"))).write_bytes(ogg.read_bytes())
    return sorted(music.glob("*.ogg"))


def make_speech() -> np.ndarray:
    """Radio-DJ-like speech at RATE from espeak-ng (installed with apt-get if missing)."""
    cache = DATA / "speech.npy"
    if cache.exists():
        return np.load(cache)
    if shutil.which("espeak-ng") is None:
        print("installing espeak-ng with apt-get", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "espeak-ng"], check=True)
    parts = []
    voices = ["en-us", "en", "en-gb-x-rp", "en-029"]
    for i, text in enumerate(SPEECH_TEXT * 3):
        with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
            subprocess.run(
                [
                    "espeak-ng",
                    "-v",
                    voices[i % len(voices)],
                    "-s",
                    str(150 + 10 * (i % 4)),
                    "-p",
                    str(35 + 5 * (i % 5)),
                    "-w",
                    wav.name,
                    text,
                ],
                check=True,
            )
            parts.append(pcm(Path(wav.name).read_bytes(), RATE))
            parts.append(np.zeros(RATE // 3, dtype=np.float32))
    speech = np.concatenate(parts)
    DATA.mkdir(parents=True, exist_ok=True)
    np.save(cache, speech)
    return speech


def pcm(source: bytes | Path, rate: int) -> np.ndarray:
    """Mono float32 PCM at ``rate`` via ffmpeg (for building degraded clips)."""
    data = source.read_bytes() if isinstance(source, Path) else source
    with tempfile.NamedTemporaryFile(suffix=".bin") as handle:
        handle.write(data)
        handle.flush()
        out = subprocess.run(
            [
                ffmpeg_binary(),
                "-v",
                "error",
                "-nostdin",
                "-i",
                handle.name,
                "-ac",
                "1",
                "-ar",
                str(rate),
                "-f",
                "f32le",
                "pipe:1",
            ],
            capture_output=True,
            check=True,
        ).stdout
    return np.frombuffer(out, dtype="<f4").copy()


def load_tracks(paths: list[Path]) -> dict[str, np.ndarray]:
    cache = DATA / "pcm44k"
    cache.mkdir(parents=True, exist_ok=True)
    tracks = {}
    for path in paths:
        npy = cache / (path.stem + ".npy")
        if not npy.exists():
            # Written aside and renamed: another benchmark may be reading the cache.
            partial = cache / (path.stem + f".{os.getpid()}.partial.npy")
            np.save(partial, pcm(path, RATE))
            partial.replace(npy)
        tracks[path.name] = np.load(npy, mmap_mode="r")
    return tracks


# -- degradations ---------------------------------------------------------------------------


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(f), n)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)) + 1e-20))


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    return x + pink_noise(x.size, rng) * rms(x) * 10 ** (-snr_db / 20)


def add_speech(x: np.ndarray, speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    start = int(rng.integers(0, speech.size - x.size))
    talk = speech[start : start + x.size]
    # Level the speech on its voiced parts, 6 dB under the music.
    voiced = talk[np.abs(talk) > 0.01]
    level = rms(voiced) if voiced.size else 1.0
    return x + talk / level * rms(x) * 10 ** (-6 / 20)


def change_speed(x: np.ndarray, speed: float) -> np.ndarray:
    """Play ``speed`` times fast: resample, so pitch and tempo change together."""
    up, down = (50, 51) if speed > 1 else (51, 50)
    if abs(speed - 1.0) < 1e-9:
        return x
    if abs(speed - down / up) > 1e-3:
        raise ValueError("only +-2 % is implemented")
    return resample_poly(x, up, down).astype(np.float32)


def mp3(x: np.ndarray) -> bytes:
    peak = float(np.max(np.abs(x))) or 1.0
    data = (x / max(peak, 1.0)).astype("<f4").tobytes()
    return subprocess.run(
        [
            ffmpeg_binary(),
            "-v",
            "error",
            "-f",
            "f32le",
            "-ar",
            str(RATE),
            "-ac",
            "1",
            "-i",
            "pipe:0",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            "-f",
            "mp3",
            "pipe:1",
        ],
        input=data,
        capture_output=True,
        check=True,
    ).stdout


@dataclass
class Clip:
    track: str
    start: float
    seconds: float


CONDITIONS = [
    "clean",
    "mp3_64k",
    "noise_10db",
    "noise_5db",
    "speech_-6db",
    "speed_+2%",
    "speed_-2%",
    "chained_+2%",
    "chained_-2%",
]


def degrade(
    x: np.ndarray, condition: str, seconds: float, speech: np.ndarray, rng: np.random.Generator
):
    """A ``seconds`` long degraded clip (samples at RATE, or MP3 bytes) from ``x``, which
    holds at least 3 % more audio than ``seconds`` so a sped-up clip is still full length."""
    n = int(seconds * RATE)
    if "speed" in condition or "chained" in condition:
        x = change_speed(x, 1.02 if "+" in condition else 0.98)
    x = x[:n]
    if condition == "clean" or condition.startswith("speed_"):
        return x
    if condition == "mp3_64k":
        return mp3(x)
    if condition == "noise_10db":
        return add_noise(x, 10, rng)
    if condition == "noise_5db":
        return add_noise(x, 5, rng)
    if condition == "speech_-6db":
        return add_speech(x, speech, rng)
    if condition.startswith("chained_"):
        y = add_speech(x, speech, rng)
        y = add_noise(y, 5, rng)
        return mp3(y)
    raise ValueError(condition)


def to_query(audio) -> np.ndarray:
    if isinstance(audio, bytes):
        return decode(audio, name="<clip.mp3>")
    return decode(audio, sample_rate=RATE, name="<clip>")


def cut(track: np.ndarray, start: float, seconds: float) -> np.ndarray:
    a = int(start * RATE)
    return np.asarray(track[a : a + int(seconds * 1.03 * RATE) + RATE // 10], dtype=np.float32)


# -- measurements ---------------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process plus its finished children (ffmpeg)."""
    own = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own + children.ru_utime + children.ru_stime


def measure_ingestion(paths: list[Path]) -> tuple[dict[str, Fingerprint], dict]:
    prints: dict[str, Fingerprint] = {}
    audio = decode_cpu = fp_cpu = 0.0
    for path in paths:
        start = cpu_seconds()
        samples = decode(path)
        mid = cpu_seconds()
        prints[path.name] = fingerprint(samples)
        end = cpu_seconds()
        audio += samples.size / SPEC.sample_rate
        decode_cpu += mid - start
        fp_cpu += end - mid
    return prints, {
        "audio_seconds": round(audio, 1),
        "realtime_per_core_decode_included": round(audio / (decode_cpu + fp_cpu), 1),
        "realtime_per_core_decode_only": round(audio / decode_cpu, 1),
        "realtime_per_core_fingerprint_only": round(audio / fp_cpu, 1),
    }


# The recall and null-window cells in the order a run makes them: its one seeded
# generator is drawn in this order, so a replay of its clips follows it too.
RECALL_CELLS = [(seconds, condition) for seconds in (5, 10) for condition in CONDITIONS]
NULL_CELLS = [(seconds, degraded) for seconds in (5, 10) for degraded in (False, True)]


def split_catalogue(paths: list[Path]) -> tuple[list[str], list[str], dict[str, int]]:
    """(catalogue, held out, id by name) of the fetched tracks' names: every 6th track
    is held out of the catalogue as non-catalogue music; ids count from 1 in the order
    fetched."""
    names = [p.name for p in paths]
    held_out = names[::6]
    catalogue = [n for n in names if n not in held_out]
    return catalogue, held_out, {name: i + 1 for i, name in enumerate(names)}


def recall_clips(tracks, catalogue, speech, seconds, condition, per_track, rng):
    """(track name, start, query samples) of ``per_track`` degraded clips of each
    catalogue track, at seeded random offsets (recall's clips, in its order)."""
    for name in catalogue:
        track = tracks[name]
        duration = track.size / RATE
        for _ in range(per_track):
            start = float(rng.uniform(0, duration - seconds * 1.05 - 0.2))
            audio = degrade(cut(track, start, seconds), condition, seconds, speech, rng)
            yield name, start, to_query(audio)


def recall(matcher, tracks, catalogue, ids, speech, seconds, condition, per_track, rng):
    found = right_offset = total = 0
    for name, start, samples in recall_clips(
        tracks, catalogue, speech, seconds, condition, per_track, rng
    ):
        matches = matcher.match(samples)
        total += 1
        if matches and matches[0].track_id == ids[name]:
            found += 1
            top = matches[0]
            heard = top.track_offset - top.query_offset * top.speed
            right_offset += abs(heard - start) <= 0.1
    return found / total, right_offset / total, total


def music_windows(tracks, names, speech, seconds, step, rng, *, degraded: bool):
    """(track name, start, condition, query samples) of a window every ``step`` seconds
    of each named track: clean, or degraded by a condition drawn at random."""
    for name in names:
        track = tracks[name]
        for start in np.arange(0.6, track.size / RATE - seconds - 0.5, step):
            x = cut(track, float(start), seconds)
            if degraded:
                condition = CONDITIONS[int(rng.integers(1, len(CONDITIONS)))]
                samples = to_query(degrade(x, condition, seconds, speech, rng))
                yield name, float(start), condition, samples
            else:
                yield name, float(start), "clean", to_query(x[: int(seconds * RATE)])


def null_windows(tracks, held_out, speech, seconds, step, rng, *, degraded: bool):
    """Windows of non-catalogue audio: held-out music (optionally degraded) and speech."""
    for _, _, _, samples in music_windows(
        tracks, held_out, speech, seconds, step, rng, degraded=degraded
    ):
        yield "music", samples
    for start in np.arange(0.3, speech.size / RATE - seconds - 0.5, step):
        x = speech[int(start * RATE) : int((start + seconds) * RATE)]
        yield "speech", to_query(x)


def false_matches(matcher, windows):
    counts: dict[str, list[int]] = {}
    margins = []
    for kind, samples in windows:
        found = matcher.candidates(samples)
        top = found[0] if found else None
        margins.append(top.hits - top.second_hits if top else 0)
        hit = bool(top and top.confidence >= matcher.threshold)
        tally = counts.setdefault(kind, [0, 0])
        tally[0] += hit
        tally[1] += 1
    return counts, margins


def latency(matcher, queries: list[bytes]) -> dict:
    """Per 10 s MP3 clip: lookup+scoring wall and CPU time, and end-to-end CPU (decode
    included). The first query, which loads the compiled kernels, is not timed."""
    matcher.score(matcher.hash_query(decode(queries[0], name="<clip.mp3>")))
    score_ms, score_cpu_ms, total_ms = [], [], []
    for blob in queries:
        start = cpu_seconds()
        samples = decode(blob, name="<clip.mp3>")
        hashed = matcher.hash_query(samples)
        wall, cpu = time.perf_counter(), time.process_time()
        matches = matcher.score(hashed)
        score_ms.append(1000 * (time.perf_counter() - wall))
        score_cpu_ms.append(1000 * (time.process_time() - cpu))
        del matches
        total_ms.append(1000 * (cpu_seconds() - start))
    return {
        "lookup_scoring_ms_median": round(float(np.median(score_ms)), 2),
        "lookup_scoring_ms_p99": round(float(np.percentile(score_ms, 99)), 2),
        "lookup_scoring_cpu_ms_median": round(float(np.median(score_cpu_ms)), 2),
        "lookup_scoring_cpu_ms_p99": round(float(np.percentile(score_cpu_ms, 99)), 2),
        "end_to_end_cpu_ms_median": round(float(np.median(total_ms)), 1),
        "end_to_end_cpu_ms_p99": round(float(np.percentile(total_ms, 99)), 1),
        "queries": len(queries),
    }


def synthetic_index(
    prints: dict[str, Fingerprint], real_ids: dict[str, int], n_tracks: int, *, model: str
):
    """The real catalogue plus synthetic tracks up to ``n_tracks``, each with a real
    track's entry count and its offsets shuffled (so it never aligns with anything).

    ``model`` says where the synthetic tracks' hashes come from:

    - ``copied``: a real track's own hashes. Pessimistic for a specific hash: every
      real hash then sits in a bucket with ~350 copies of itself, which no catalogue
      of different songs would produce.
    - ``layout``: keys drawn uniformly from the version's key layout, hashed like
      real keys. Optimistic: real music uses some keys more than others.

    The truth for 10,000 real songs lies between the two.
    """
    rng = np.random.default_rng(10_000)
    index = Index()
    items = [(real_ids[name], fp) for name, fp in prints.items()]
    sources = list(prints.values())
    n_keys = math.prod(layout(SPEC))
    for i in range(n_tracks - len(items)):
        fp = sources[i % len(sources)]
        if model == "copied":
            hashes = fp.hashes
        else:
            hashes = xxh32_u32(rng.integers(0, n_keys, fp.hashes.size), SPEC.version)
        items.append((1_000_000 + i, Fingerprint(hashes, rng.permutation(fp.offsets), fp.duration)))
    index.add_many(items)
    return index


def big_index_figures(prints, ids, clips, windows, *, model: str, quick: bool) -> dict:
    big = synthetic_index(prints, ids, 10_000, model=model)
    big_matcher = Matcher(big)
    figures = latency(big_matcher, clips)
    hits = sum(bool(big_matcher.match(decode(c, name="<clip>"))) for c in clips)
    counts, margins = false_matches(big_matcher, windows)
    figures.update(
        {
            "tracks": len(big),
            "mb": round(big.nbytes / 1e6, 1),
            "clips_matched": f"{hits}/{len(clips)}",
            "false_matches_10s": {k: {"false": v[0], "windows": v[1]} for k, v in counts.items()},
            "max_null_margin": int(max(margins)),
        }
    )
    del big, big_matcher
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips and windows")
    args = parser.parse_args()
    per_track = 1 if args.quick else 3
    null_step = 10.0 if args.quick else 2.5
    rng = np.random.default_rng(2024)

    paths = fetch_music()
    tracks = load_tracks(paths)
    speech = make_speech()
    catalogue, held_out, ids = split_catalogue(paths)

    prints, ingestion = measure_ingestion([p for p in paths if p.name in catalogue])
    index = Index()
    index.add_many((ids[n], fp) for n, fp in prints.items())
    hours = index.indexed_seconds / 3600
    memory = {
        "entries": index.entries,
        "hashes_per_second": round(index.entries / index.indexed_seconds, 1),
        "indexed_hours": round(hours, 3),
        "mb_per_hour": round(index.nbytes / 1e6 / hours, 3),
    }
    matcher = Matcher(index)

    results: dict = {}
    for seconds, condition in RECALL_CELLS:
        r, off, n = recall(
            matcher, tracks, catalogue, ids, speech, seconds, condition, per_track, rng
        )
        results[f"{condition}@{seconds}s"] = {
            "recall": round(r, 4),
            "offset_ok": round(off, 4),
            "clips": n,
        }
        print(f"recall {condition:>12s} {seconds:2d} s  {r:6.1%}  (n={n})", file=sys.stderr)

    nulls = {}
    all_margins = []
    for seconds, degraded in NULL_CELLS:
        counts, margins = false_matches(
            matcher,
            null_windows(tracks, held_out, speech, seconds, null_step, rng, degraded=degraded),
        )
        all_margins += margins
        label = f"{seconds}s{'_degraded' if degraded else ''}"
        nulls[label] = {k: {"false": v[0], "windows": v[1]} for k, v in counts.items()}
    nulls["max_null_margin"] = int(max(all_margins))

    clips = []
    for name in catalogue:
        track = tracks[name]
        for _ in range(2 if args.quick else 4):
            start = float(rng.uniform(0, track.size / RATE - 11))
            condition = "chained_+2%" if len(clips) % 2 else "mp3_64k"
            audio = degrade(cut(track, start, 10), condition, 10, speech, rng)
            clips.append(audio if isinstance(audio, bytes) else mp3(audio))
    lat_small = latency(matcher, clips)
    few = clips[:: max(1, len(clips) // (12 if args.quick else 24))]
    windows = list(null_windows(tracks, held_out, speech, 10, 10.0, rng, degraded=False))
    windows = windows[:: max(1, len(windows) // (12 if args.quick else 24))]
    big = {
        model: big_index_figures(prints, ids, few, windows, model=model, quick=args.quick)
        for model in ("copied", "layout")
    }

    report = {
        "fingerprint_version": FINGERPRINT_VERSION,
        "quick": args.quick,
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": 1},
        "catalogue_tracks": len(catalogue),
        "held_out_tracks": len(held_out),
        "ingestion": ingestion,
        "index": memory,
        "recall": results,
        "false_matches": nulls,
        "latency_catalogue_index": lat_small,
        "latency_10k_index": big["copied"],
        "latency_10k_index_layout_model": big["layout"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)


def print_table(report: dict) -> None:
    rec = report["recall"]
    print(
        f"\nFingerprint v{report['fingerprint_version']}  "
        f"({report['catalogue_tracks']} catalogue tracks, {report['held_out_tracks']} held out)"
    )
    print("| condition | recall 5 s | recall 10 s |")
    print("|---|---|---|")
    for condition in CONDITIONS:
        a, b = rec[f"{condition}@5s"], rec[f"{condition}@10s"]
        print(f"| {condition} | {a['recall']:.1%} | {b['recall']:.1%} |")
    print("\n| false matches | music | speech |")
    print("|---|---|---|")
    for label, counts in report["false_matches"].items():
        if isinstance(counts, dict):
            m, s = counts.get("music", {}), counts.get("speech", {})
            music = f"{m.get('false')}/{m.get('windows')}"
            print(f"| {label} | {music} | {s.get('false')}/{s.get('windows')} |")
    ing, idx = report["ingestion"], report["index"]
    small = report["latency_catalogue_index"]
    bigs = {
        "copied hashes": report["latency_10k_index"],
        "layout keys": report["latency_10k_index_layout_model"],
    }
    print(
        f"\ningestion: {ing['realtime_per_core_decode_included']}x realtime per core (decode "
        f"included; decode alone {ing['realtime_per_core_decode_only']}x, fingerprint alone "
        f"{ing['realtime_per_core_fingerprint_only']}x)"
    )
    print(f"index: {idx['mb_per_hour']} MB per hour ({idx['hashes_per_second']} hashes/s)")
    rows = [("catalogue index", small)] + [
        (f"{big['tracks']}-track index, {model}", big) for model, big in bigs.items()
    ]
    for label, lat in rows:
        print(
            f"query 10 s, {label}: lookup+scoring median {lat['lookup_scoring_ms_median']} ms, "
            f"p99 {lat['lookup_scoring_ms_p99']} ms (CPU median "
            f"{lat['lookup_scoring_cpu_ms_median']} ms, "
            f"p99 {lat['lookup_scoring_cpu_ms_p99']} ms); end-to-end CPU median "
            f"{lat['end_to_end_cpu_ms_median']} ms, p99 {lat['end_to_end_cpu_ms_p99']} ms"
        )
    for model, big in bigs.items():
        print(
            f"10k index ({model}): {big['clips_matched']} clips matched, false "
            f"{big['false_matches_10s']}, max null margin {big['max_null_margin']}; "
            f"{big['mb']} MB"
        )


if __name__ == "__main__":
    main()
