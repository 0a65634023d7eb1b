"""``make bench``: measure, side by side in one run, and write a markdown and a JSON report.

``python -m benchmarks [planner] [parse] [deployment]`` runs a subset.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks import deployment, parse, planner

OUT = Path(__file__).resolve().parents[1] / "build" / "bench"
SUITES = {
    "planner": lambda: [planner.run()],
    "parse": parse.run,
    "deployment": deployment.run,
}


def markdown(results: list[dict]) -> str:
    lines = ["# ue-backup benchmarks", "", "| benchmark | figure | value |", "|---|---|---|"]
    for result in results:
        for key, value in result.items():
            if key not in ("name", "timeline"):
                lines.append(f"| {result['name']} | {key} | {value} |")
    for result in results:
        if result.get("timeline"):
            lines += ["", f"## Tasks of the run behind: {result['name']}", ""]
            lines += ["| task | queued (s) | started (s) | ended (s) |", "|---|---|---|---|"]
            lines += [f"| {' | '.join(str(c) for c in row)} |" for row in result["timeline"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    chosen = argv or list(SUITES)
    unknown = sorted(set(chosen) - set(SUITES))
    if unknown:
        print(f"unknown suites {unknown}; choose from {sorted(SUITES)}")
        return 2
    results = [result for name in chosen for result in SUITES[name]()]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report.json").write_text(json.dumps(results, indent=2))
    (OUT / "report.md").write_text(markdown(results))
    print(markdown(results))
    print(f"reports: {OUT / 'report.md'}, {OUT / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
