"""numba's cache of a package of compiled modules: dropped when any of its sources changes, so that a function
never runs a callee's old code from another module; and the matcher's kernel loads from it in a new process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dispatch.matching import ruin_recreate_kernel
from dispatch.matching.compiled_cache import FINGERPRINT_FILE, forget_stale_compilations

ROOT = Path(__file__).resolve().parents[3]


def python(code: str, *path: Path) -> str:
    """Runs `code` in a new interpreter (the project and `path` importable, numba's cache beside the sources)."""
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in (*path, ROOT))
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_cached_functions_are_dropped_when_a_source_changes_and_kept_while_none_does(tmp_path: Path) -> None:
    package, cache = tmp_path / "package", tmp_path / "cache"
    package.mkdir()
    cache.mkdir()
    (package / "one.py").write_text("A = 1\n")
    (package / "two.py").write_text("B = 2\n")
    compiled = [cache / "one.f-3.py311.nbi", cache / "one.f-3.py311.1.nbc", cache / "two.g-5.py311.nbi"]
    bytecode = cache / "one.cpython-311.pyc"
    for path in (*compiled, bytecode):
        path.write_bytes(b"x")

    assert forget_stale_compilations(package, cache)  # no fingerprint yet: compiled from unknown sources
    assert not any(path.exists() for path in compiled)
    assert bytecode.exists()
    assert (cache / FINGERPRINT_FILE).exists()

    compiled[0].write_bytes(b"x")
    assert not forget_stale_compilations(package, cache)
    assert compiled[0].exists()

    (package / "two.py").write_text("B = 3\n")
    assert forget_stale_compilations(package, cache)
    assert not compiled[0].exists()
    assert sorted(p.name for p in cache.iterdir()) == sorted([FINGERPRINT_FILE, bytecode.name])


def test_a_function_runs_its_callees_new_code_after_the_callees_module_changed(tmp_path: Path) -> None:
    package = tmp_path / "compiledpair"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from pathlib import Path\n"
        "from dispatch.matching.compiled_cache import cache_directory, forget_stale_compilations\n"
        "def _anchor() -> None: ...\n"
        "forget_stale_compilations(Path(__file__).parent, cache_directory(_anchor))\n"
    )
    (package / "callee.py").write_text("import numba\n@numba.njit(cache=True)\ndef value():\n    return 1\n")
    (package / "caller.py").write_text(
        "import numba\nfrom compiledpair.callee import value\n"
        "@numba.njit(cache=True)\ndef twice():\n    return 2 * value()\n"
    )
    run = "from compiledpair.caller import twice; print(twice(), len(twice.stats.cache_hits))"

    assert python(run, tmp_path) == "2 0"
    assert python(run, tmp_path) == "2 1"  # from the cache
    (package / "callee.py").write_text("import numba\n@numba.njit(cache=True)\ndef value():\n    return 21\n")
    assert python(run, tmp_path) == "42 0"  # caller.py did not change: numba alone would give 2 from the cache
    assert python(run, tmp_path) == "42 1"


def test_the_kernel_loads_compiled_from_its_cache_in_a_new_process() -> None:
    assert ruin_recreate_kernel.anneal.signatures  # compiled (or loaded) here already, so the cache is written
    loaded = python(
        "import json\n"
        "from dispatch.matching import ruin_recreate_kernel as k\n"
        "print(json.dumps({f.__name__: [len(f.stats.cache_hits), len(f.stats.cache_misses)]"
        " for f in (k.anneal, k.total_cost, k.unlink, k.link_after)}))"
    )
    assert json.loads(loaded) == {name: [1, 0] for name in ("anneal", "total_cost", "unlink", "link_after")}
