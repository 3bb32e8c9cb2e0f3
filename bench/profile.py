"""Summarize a py-spy raw (collapsed stacks) profile written by a benchmark's --profile raw.

    .venv/bin/python -m bench.profile bench/.work/profiles/ingest-....txt [--top 30] [--match NAME]

Prints the functions with the most samples on top of the stack (self) and on the stack at all
(inclusive), as a share of all samples; --match also shows the callers of functions whose name
contains NAME (where the time spent in them comes from).
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import summarize_collapsed


def callers(path: Path, name: str, depth: int = 4, top: int = 10) -> list[tuple[int, str]]:
    seen: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        for k, frame in enumerate(frames):
            if name in frame.split(" (")[0]:
                chain = [f.split(" (")[0] for f in frames[max(0, k - depth) : k + 1]]
                seen[" <- ".join(reversed(chain))] += int(count)
                break
    return [(n, chain) for chain, n in seen.most_common(top)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", action="append", default=[])
    args = parser.parse_args()
    rows = summarize_collapsed(args.path, 100_000)
    print(f"{'self %':>7} {'incl %':>7}  function (self time, busiest first)")
    for f, own, incl in rows[: args.top]:
        print(f"{own:7.1f} {incl:7.1f}  {f}")
    print(f"\n{'self %':>7} {'incl %':>7}  function (inclusive)")
    for f, own, incl in sorted(rows, key=lambda r: -r[2])[: args.top]:
        print(f"{own:7.1f} {incl:7.1f}  {f}")
    for name in args.match:
        print(f"\ncallers of *{name}*:")
        for n, chain in callers(args.path, name):
            print(f"{n:8d}  {chain}")


if __name__ == "__main__":
    main()
