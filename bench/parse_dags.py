"""How long the scheduler takes to parse the DAG folder: ``python bench/parse_dags.py``.

Every repetition is cold: a fresh interpreter that imports Airflow and its DAG
parser, then parses the folder with ``DagBag`` (bytecode caches as they are on
disk). Prints the median and the maximum of

- the parse of the folder: ``DagBag(folder)``, the DAG files' own cost, which the
  target (STYLE.md rule 7) is about;
- the import of Airflow and its parser, paid once per parsing process whatever
  the DAG files do;
- the whole process, as seen from outside;

and each file's parse time as ``DagBag`` records it. A benchmark, not a test: it
prints figures and says whether the target is met.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 2.0

_CHILD = r"""
import json, sys, time
started = time.perf_counter()
from claims_dags.runner import prepare_airflow_environment
prepare_airflow_environment()
import airflow
from airflow.dag_processing.dagbag import DagBag
imported = time.perf_counter()
bag = DagBag(sys.argv[1])
parsed = time.perf_counter()
print("BENCH " + json.dumps({
    "import_airflow": imported - started,
    "parse": parsed - imported,
    "dag_ids": sorted(bag.dags),
    "errors": bag.import_errors,
    "files": {stat.file: stat.duration.total_seconds() for stat in getattr(bag, "dagbag_stats", [])},
}))
"""


def parse_once(dags_folder: Path, workdir: Path) -> dict:
    env = {**os.environ, "AIRFLOW_HOME": str(workdir / "airflow"), "PYTHONWARNINGS": "ignore"}
    env.pop("AIRFLOW__CORE__DAGS_FOLDER", None)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(dags_folder)],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600,
    )
    process = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"the parsing process failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return {**json.loads(lines[-1].removeprefix("BENCH ")), "process": process}


def main(argv: list[str] | None = None) -> int:
    from claims_dags import DAGS_FOLDER

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh interpreters to time (default 5)")
    parser.add_argument("--dags-folder", type=Path, default=DAGS_FOLDER)
    parser.add_argument("--target", type=float, default=TARGET_SECONDS, help="seconds the folder's parse should stay under")
    args = parser.parse_args(argv)
    folder = args.dags_folder.resolve()

    with tempfile.TemporaryDirectory(prefix="parse-dags-bench-") as workdir:
        runs = [parse_once(folder, Path(workdir)) for _ in range(max(1, args.repeat))]

    first = runs[0]
    if first["errors"]:
        print(f"import errors in {folder}:", file=sys.stderr)
        for path, error in first["errors"].items():
            print(f"  {path}: {error}", file=sys.stderr)
        return 1

    def row(label: str, values: list[float]) -> str:
        return f"  {label:<32} {statistics.median(values):8.3f} s {max(values):8.3f} s"

    print(f"DAG folder {folder}: {len(first['dag_ids'])} DAGs ({', '.join(first['dag_ids'])})")
    print(f"{len(runs)} cold repetitions, each a fresh interpreter")
    print(f"  {'':<32} {'median':>10} {'max':>10}")
    print(row("parse of the folder (DagBag)", [run["parse"] for run in runs]))
    print(row("import of airflow + DagBag", [run["import_airflow"] for run in runs]))
    print(row("whole process", [run["process"] for run in runs]))
    files = sorted({name for run in runs for name in run["files"]})
    if files:
        print("per file, as DagBag records it:")
        for name in files:
            print(row(name, [run["files"][name] for run in runs if name in run["files"]]))
    worst = max(run["parse"] for run in runs)
    verdict = "met" if worst < args.target else "NOT met"
    print(f"target: the folder parses in under {args.target:g} s (worst {worst:.3f} s): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
