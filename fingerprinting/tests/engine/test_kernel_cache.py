"""The compiled kernels' files on disk: one per compiled version, named by what selects it."""

from __future__ import annotations

import os

import numba
from numba import njit
from numba.core.caching import NullCache

from fingerprinting.engine import kernel_cache
from fingerprinting.engine.kernel_cache import KernelCacheFile, cached, source_digest

from .entry_kernels import ENTRY_KERNELS

OLD, NEW = "0" * 16, "f" * 16
BASE = "kernels.bucket_ranges-85.py311"


def _files(path) -> list[str]:
    return sorted(os.listdir(path))


def test_a_version_is_read_back_under_its_own_key_and_source_only(tmp_path):
    old = KernelCacheFile(str(tmp_path), BASE, OLD)
    old.save(("int64", "cpu"), {"code": b"old"})
    assert old.load(("int64", "cpu")) == {"code": b"old"}
    assert old.load(("float64", "cpu")) is None  # another signature
    assert old.load(("int64", "other cpu")) is None
    assert KernelCacheFile(str(tmp_path), BASE, NEW).load(("int64", "cpu")) is None
    assert (
        KernelCacheFile(str(tmp_path), "kernels.slots_of-210.py311", OLD).load(("int64", "cpu"))
        is None
    )  # another function
    (name,) = _files(tmp_path)
    assert name == old.name_of(("int64", "cpu"))
    assert name.startswith(f"{BASE}.{OLD}.") and name.endswith(".nbc")


def test_two_signatures_of_one_function_never_share_a_file(tmp_path):
    """What numba's own numbering got wrong when two processes compiled at once."""
    first, second = (KernelCacheFile(str(tmp_path), BASE, OLD) for _ in range(2))
    first.save(("int64",), "int64 code")
    second.save(("float64",), "float64 code")
    assert first.load(("float64",)) == "float64 code"
    assert second.load(("int64",)) == "int64 code"
    assert len(_files(tmp_path)) == 2


def test_the_first_compile_after_an_edit_removes_the_old_texts_files_only(tmp_path):
    old = KernelCacheFile(str(tmp_path), BASE, OLD)
    old.save(("int64",), "old")
    KernelCacheFile(str(tmp_path), "kernels.slots_of-210.py311", OLD).save(("int64",), "old")
    others = [
        f"peaks.maxima-3.py311.{OLD}.{'1' * 16}.nbc",  # another module's kernel
        "kernels.bucket_ranges-85.py311.nbi",  # not one of these files
        "notes.txt",
    ]
    for name in others:
        (tmp_path / name).write_text("kept")
    new = KernelCacheFile(str(tmp_path), BASE, NEW)
    new.save(("int64",), "new")
    assert _files(tmp_path) == sorted([*others, new.name_of(("int64",))])
    assert new.load(("int64",)) == "new" and old.load(("int64",)) is None
    new.flush()  # every file of the module's kernels, whatever their text
    assert _files(tmp_path) == sorted(others)


def test_a_damaged_file_is_compiled_again_and_a_failed_write_keeps_what_was_compiled(tmp_path):
    cache = KernelCacheFile(str(tmp_path), BASE, OLD)
    cache.save(("int64",), list(range(1000)))
    path = tmp_path / cache.name_of(("int64",))
    data = path.read_bytes()
    for damaged in (data[: len(data) // 2], b"", b"\x00" * 64):
        path.write_bytes(damaged)
        assert cache.load(("int64",)) is None
    blocked = tmp_path / "a file, not a directory"
    blocked.write_text("")
    KernelCacheFile(str(blocked), BASE, OLD).save(("int64",), "lost")  # does not raise
    assert KernelCacheFile(str(blocked), BASE, OLD).load(("int64",)) is None


def test_the_source_digest_follows_the_text_of_the_file(tmp_path):
    one, same, edited = tmp_path / "one.py", tmp_path / "same.py", tmp_path / "edited.py"
    one.write_text("x = 1\n")
    same.write_text("x = 1\n")
    edited.write_text("x = 2\n")
    assert source_digest(one) == source_digest(same) != source_digest(edited)
    assert len(source_digest(one)) == 16 and int(source_digest(one), 16) >= 0


def _added(a, b):  # pragma: no cover (compiled)
    return a + b


def test_a_new_process_loads_a_compiled_kernel_and_an_edit_compiles_it_again(tmp_path, monkeypatch):
    """numba's dispatcher with the cache: each new dispatcher stands for a new process."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))

    def process(source):
        kernel = cached(njit(_added), source)
        assert kernel(2, 3) == 5
        return len(kernel.stats.cache_hits), len(kernel.stats.cache_misses)

    assert process(OLD) == (0, 1)  # compiled and written
    assert process(OLD) == (1, 0)  # loaded
    assert process(NEW) == (0, 1)  # the file's text changed: compiled again
    (directory,) = tmp_path.iterdir()  # numba's folder for this test file's folder
    names = _files(directory)
    assert len(names) == 1 and f".{NEW}." in names[0]  # the old text's file removed
    assert process(NEW) == (1, 0)


def test_the_kernels_python_calls_are_cached_under_the_digest_of_their_file():
    """The others are inside their callers' machine code (see ``kernels._inner``)."""
    from numba.core.registry import CPUDispatcher

    from fingerprinting.engine import kernels

    assert source_digest(kernels.__file__) == kernels._SOURCE
    caches = {n: f._cache for n, f in vars(kernels).items() if isinstance(f, CPUDispatcher)}
    cached_kernels = {n for n, c in caches.items() if isinstance(c, kernel_cache.KernelCache)}
    # gather_entries: Index.lookup's (tools and tests), no query's.
    assert cached_kernels == {*ENTRY_KERNELS, "gather_entries"}
    assert all(caches[n]._cache_file._source_stamp == kernels._SOURCE for n in cached_kernels)


def test_without_the_kernels_source_nothing_is_cached(tmp_path, monkeypatch):
    """An install without .py files: the kernels compile in each process, as before."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert source_digest(tmp_path / "kernels.py") is None
    kernel = cached(njit(_added), None)
    assert kernel(2, 3) == 5
    assert isinstance(kernel._cache, NullCache)
    assert not list(tmp_path.iterdir())
