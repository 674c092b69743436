"""numba's on-disk cache for a package of compiled modules, dropped whole when any of its sources changes.

numba checks a cached function against its own source file only (the first of the caching limits in numba's
notes on caching): a function compiled with a callee from another module keeps the callee's old code after
that module changed, until its own file changes too. A package whose compiled functions call each other
across its modules therefore calls `forget_stale_compilations` in its `__init__`, before it imports them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from numba.core.caching import FunctionCache

FINGERPRINT_FILE = "sources.sha256"
"""Kept beside the cached functions: the sources they were compiled from."""


def sources_fingerprint(package: Path) -> str:
    """A hash of the package's Python sources, names and contents."""
    digest = hashlib.sha256()
    for source in sorted(package.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_directory(anchor: Callable[..., Any]) -> Path:
    """Where numba caches the compiled functions of the folder `anchor` is defined in (every module there
    shares it): `__pycache__` beside the sources, else under `NUMBA_CACHE_DIR` or the user's cache folder,
    as numba itself chooses."""
    return Path(FunctionCache(anchor).cache_path)  # type: ignore[no-untyped-call]


def forget_stale_compilations(package: Path, cache: Path) -> bool:
    """Deletes numba's cached functions in `cache` unless the fingerprint kept there says they were compiled
    from the package's present sources, then keeps the new fingerprint; True when it deleted. numba compiles
    them again on first use (those compiled at import, during the import) and caches them afresh.

    Safe with several processes starting at once: numba takes a missing cache file for a miss, and writes its
    own by renaming; at worst a process deletes what another has just compiled, which is compiled again."""
    fingerprint = sources_fingerprint(package)
    kept = cache / FINGERPRINT_FILE
    try:
        if kept.read_text() == fingerprint:
            return False
    except FileNotFoundError:
        pass
    for compiled in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
        compiled.unlink(missing_ok=True)
    written = cache / f"{FINGERPRINT_FILE}.{os.getpid()}"
    written.write_text(fingerprint)
    os.replace(written, kept)
    return True
