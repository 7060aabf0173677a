"""Whether the engine's memory stays flat: resident memory over two simulated days.

    .venv/bin/python bench/memory.py [--days 2] [--seed 0]

Runs ``edgeloop`` (the default configuration: all five strategies, the honest paper venue,
the closed loop, a fresh SQLite ledger) for ``--days`` of feed time as fast as it goes, and
reads the resident memory the status line reports every 2 simulated hours. Prints RSS after
2 hours (the reference, same process), after the last hour, and the ratio; the target is a
ratio within 1.10 (state of markets that ended is dropped: signal keys, orders, books).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATUS = re.compile(r"status run=\d+ t=(\S+) .* rss=(\d+)MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            str(ROOT / ".venv/bin/edgeloop"),
            f"db.url=sqlite:///{Path(tmp) / 'memory.db'}",
            f"run.duration={args.days * 24:g}h",
            "run.speed=max",
            "run.status_every=2h",
            f"seed={args.seed}",
            f"hydra.run.dir={tmp}/run",
        ]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
        return done.returncode
    points = [(t, float(mb)) for t, mb in STATUS.findall(done.stderr)]
    if len(points) < 2:
        print("too few status lines to compare", file=sys.stderr)
        return 1
    for t, mb in points:
        print(f"{t}  rss {mb:6.0f} MB")
    (_, first), (t1, last) = points[0], points[-1]
    ratio = last / first
    verdict = "flat" if ratio <= 1.10 else "GROWS"
    print(
        f"rss after 2 h {first:.0f} MB (reference), after {t1} {last:.0f} MB: ratio {ratio:.3f} ({verdict}, target <= 1.10)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
