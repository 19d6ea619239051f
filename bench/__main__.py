"""Print the performance figures: `python -m bench [--json] [--quick] [--only NAME ...]`."""

import argparse
import json
import os

import torch

from bench import SECTIONS, format_table, run_sections
from explorer import allocator


def main() -> None:
    allocator.configure()  # the app's malloc settings (app.py), so the figures are the app's
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="smaller cases, for a smoke run")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    args = parser.parse_args()
    results = run_sections(args.only, quick=args.quick)
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus")
    for name, rows in results.items():
        print(f"\n== {name}\n{format_table(rows)}")


if __name__ == "__main__":
    main()
