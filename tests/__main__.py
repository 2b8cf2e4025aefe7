"""Run the test suite on every Keras backend: ``python -m tests [pytest arguments]``.

Keras fixes its backend at import, so each backend gets its own pytest
process: ``KERAS_BACKEND=tensorflow`` runs every test, ``jax`` and ``torch``
run the tests marked ``all_backends`` (``tests/conftest.py`` deselects the
rest). Extra arguments go to every pytest run (``python -m tests -x
tests/layers``); ``--backends jax,torch`` picks the backends. All the runs
happen even when one fails; the exit status is non-zero if any failed. A run
that selects no test (pytest's exit status 5, e.g. a path without marked
tests) is not a failure.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

BACKENDS = ("tensorflow", "jax", "torch")
NO_TESTS_COLLECTED = 5


def main(argv):
    backends = BACKENDS
    if argv and argv[0].startswith("--backends"):
        value = argv[0].split("=", 1)[1] if "=" in argv[0] else argv[1]
        argv = argv[1:] if "=" in argv[0] else argv[2:]
        backends = tuple(b.strip() for b in value.split(",") if b.strip())
        unknown = sorted(set(backends) - set(BACKENDS))
        if unknown:
            raise SystemExit(f"unknown backend(s) {unknown}; choose from {list(BACKENDS)}")
    root = Path(__file__).resolve().parents[1]
    results = []
    for backend in backends:
        command = [sys.executable, "-m", "pytest", "-q", *argv]
        print(f"\n===== KERAS_BACKEND={backend} {' '.join(command[1:])}", flush=True)
        start = time.monotonic()
        code = subprocess.call(command, cwd=root, env=dict(os.environ, KERAS_BACKEND=backend))
        results.append((backend, code, time.monotonic() - start))
    print("\n===== backends")
    failed = False
    for backend, code, seconds in results:
        ok = code in (0, NO_TESTS_COLLECTED)
        failed |= not ok
        status = "passed" if code == 0 else ("no tests" if ok else f"FAILED (exit {code})")
        print(f"  {backend:<11} {status:<18} {seconds:7.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
