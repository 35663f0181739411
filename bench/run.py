"""Runs the shared benchmark: Legato against moto's interpreter, side by side.

Usage (from the repository root, after `make test` or `make demo` made .venv):

    python bench/run.py [--runs N] [--shapes a,b] [--json OUT]

It prepares a separate virtual environment with the pinned moto release under
``.bench/moto`` on first use, then calls ``../shared/bench/bench.py`` with
Legato's interpreter and moto's. The harness reports per-shape medians and the
speedup of Legato over moto; the figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MOTO_VENV = ROOT / ".bench" / "moto"
MOTO_VERSION = "5.2.5"


def _moto_python() -> Path:
    python = MOTO_VENV / "bin" / "python"
    if not python.exists():
        print(f"preparing {MOTO_VENV} with moto {MOTO_VERSION} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(MOTO_VENV)
    probe = subprocess.run([str(python), "-c", "import moto"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"moto[stepfunctions]=={MOTO_VERSION}"],
            check=True,
        )
    return python


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the harness's exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, help="timed runs per shape (default: the manifest's)")
    parser.add_argument("--shapes", help="comma-separated shape names (default: all)")
    parser.add_argument("--json", help="write every run's figures to this file")
    parser.add_argument("--legato-only", action="store_true", help="skip moto (no ratios)")
    args = parser.parse_args(argv)

    harness = SHARED / "bench" / "bench.py"
    if not harness.exists():
        print(f"benchmark harness not found at {harness}", file=sys.stderr)
        return 2
    legato_python = ROOT / ".venv" / "bin" / "python"
    cmd = [sys.executable, str(harness), "--python-legato", str(legato_python)]
    if args.legato_only:
        cmd += ["--engines", "legato"]
    else:
        cmd += ["--engines", "legato,moto", "--python-moto", str(_moto_python())]
    if args.runs:
        cmd += ["--runs", str(args.runs)]
    if args.shapes:
        cmd += ["--shapes", args.shapes]
    if args.json:
        cmd += ["--json", args.json]
    return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
