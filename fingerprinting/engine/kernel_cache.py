"""The compiled kernels kept on disk, so that a process loads them instead of compiling.

Compiling every kernel costs 8-20 s of CPU, by the machine; loading them compiled costs
about half a second. Every process that matches pays one or the other: each capture
worker, each web process that serves a clip upload, each ``identify`` command, each test
worker.

numba's own cache (``cache=True``) is not used as it is, because processes that start
together would share its files without coordination: it numbers each function's compiled
versions in an index file written before the data file, so a process can read the index
of a new compile and the data of an old one (after an edit, the old kernel's machine
code), and two processes compiling different signatures of one function both write
version 1. Here each compiled version is one file whose name is a digest of everything
that selects it: the function, its argument types, the CPU, numba's, llvmlite's and
numpy's versions and the whole text of ``kernels.py`` (its kernels call only each other,
so an edit anywhere in the file is a new name for all of them). A file is written whole
under a temporary name and renamed, so a process reads a complete file of the right
version or none, and then compiles; the worst two processes starting together can do is
both compile. Files of any other text of ``kernels.py`` are removed by the first process
that compiles after an edit (two versions of ZamIO sharing one directory, as during a
rolling deploy, remove each other's until the old one stops: each process then compiles,
as without a cache).

Where the files go is numba's choice: ``NUMBA_CACHE_DIR`` if set, else a ``__pycache__``
beside ``kernels.py`` if it is writable, else the user's cache directory; with none of
them writable the kernels compile in every process, as they did before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import re
from pathlib import Path

import llvmlite
import numba
import numpy as np
from numba.core.caching import FunctionCache, IndexDataCacheFile

_SUFFIX = ".nbc"

log = logging.getLogger(__name__)


def source_digest(path: str | os.PathLike) -> str | None:
    """What a compiled kernel depends on besides its own signature and the CPU: the
    text of its file and the versions of the compiler and of numpy; ``None`` if the
    file cannot be read (an install without sources: nothing is cached then)."""
    try:
        text = Path(path).read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(text)
    versions = f"numba {numba.__version__} llvmlite {llvmlite.__version__} numpy {np.__version__}"
    digest.update(versions.encode())
    return digest.hexdigest()[:16]


class KernelCacheFile(IndexDataCacheFile):
    """One file per compiled version, named by digests of the source and of the key
    (no shared index): ``<function>-<line>.<python>.<source>.<key>.nbc``."""

    def __init__(self, cache_path: str, filename_base: str, source: str) -> None:
        super().__init__(cache_path, filename_base, source_stamp=source)
        self._base = filename_base
        self._pruned = False

    def name_of(self, key) -> str:
        key_digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
        return f"{self._base}.{self._source_stamp}.{key_digest}{_SUFFIX}"

    def load(self, key):
        try:
            return self._load_data(self.name_of(key))
        except (OSError, EOFError, pickle.UnpicklingError):  # absent, or not readable
            return None

    def save(self, key, data) -> None:
        try:
            self._save_data(self.name_of(key), data)
        except OSError:  # (a full or read-only disk: the process keeps what it compiled)
            return
        if not self._pruned:
            self._pruned = True
            self.prune()

    def flush(self) -> None:
        """Remove every file of this module's kernels (numba's ``cache.flush()``)."""
        self.prune(keep_current=False)

    def prune(self, *, keep_current: bool = True) -> None:
        """Remove the files of this module's kernels compiled from another text of it."""
        module = self._base.split(".", 1)[0]
        pattern = re.compile(
            rf"{re.escape(module)}\..+\.([0-9a-f]{{16}})\.[0-9a-f]{{16}}{re.escape(_SUFFIX)}"
        )
        try:
            names = os.listdir(self._cache_path)
        except OSError:
            return
        for name in names:
            found = pattern.fullmatch(name)
            if found and not (keep_current and found.group(1) == self._source_stamp):
                with contextlib.suppress(FileNotFoundError):  # (another process was first)
                    os.unlink(os.path.join(self._cache_path, name))


class KernelCache(FunctionCache):
    """numba's per-function cache with ``KernelCacheFile`` for its files."""

    def __init__(self, py_func, source: str) -> None:
        super().__init__(py_func)
        self._cache_file = KernelCacheFile(self._cache_path, self._impl.filename_base, source)


def cached(kernel, source: str | None):
    """Give the numba dispatcher ``kernel`` a ``KernelCache`` (none without a ``source``
    digest, or when numba finds no writable place for it); returns ``kernel``."""
    if source is None:
        return kernel
    try:
        cache = KernelCache(kernel.py_func, source)
    except RuntimeError as error:  # numba's "no locator available": nowhere to write
        log.info("%s: compiled in every process (%s)", kernel.py_func.__name__, error)
        return kernel
    kernel._cache = cache
    return kernel
