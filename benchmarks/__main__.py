"""``make bench``: measure, side by side in one run, and write a markdown and a JSON report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks import planner

OUT = Path(__file__).resolve().parents[1] / "build" / "bench"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    results = [planner.run()]
    (OUT / "report.json").write_text(json.dumps(results, indent=2))
    lines = ["# ue-backup benchmarks", "", "| benchmark | figure | value |", "|---|---|---|"]
    for result in results:
        for key, value in result.items():
            if key != "name":
                lines.append(f"| {result['name']} | {key} | {value} |")
    (OUT / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nreports: {OUT / 'report.md'}, {OUT / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
