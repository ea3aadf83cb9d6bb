"""Runs the benchmark rows and prints/writes the table.

Usage:
    python -m benchmarks [--quick] [--rows KEY[,KEY...]] [--device cpu|gpu]
                         [--out PATH]

Row keys: topk-train, matmul-b1, matmul-b64, fista, pruning, sae-train,
sae-train-auxk, grading-sandbox,
grading-workers (a prefix such as
`matmul` selects several). Results go to `benchmarks/results/bench.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "bench.json"
GROUPS = ("topk_train", "matmul", "fista", "pruning", "sae", "grading")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster rows")
    parser.add_argument(
        "--rows", default="", help="comma-separated row keys or key prefixes"
    )
    parser.add_argument(
        "--device", choices=("cpu", "gpu"), default="cpu", help="where sparsekit runs"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON output file")
    return parser.parse_args(argv)


def _set_device(device: str) -> None:
    """Pins the backend to the device; must run before Keras is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    if device == "cpu":
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def _check_gpu() -> str:
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            raise SystemExit("--device gpu: TensorFlow sees no GPU")
        return gpus[0].name
    import jax

    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    if not gpus:
        raise SystemExit("--device gpu: JAX sees no GPU")
    return str(gpus[0])


def _selected(specs, keys: str):
    wanted = [k.strip() for k in keys.split(",") if k.strip()]
    if not wanted:
        return specs
    chosen = [s for s in specs if any(s.key.startswith(w) for w in wanted)]
    if not chosen:
        known = ", ".join(s.key for s in specs)
        raise SystemExit(f"--rows {keys!r} matches no row; known rows: {known}")
    return chosen


def _format_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _cells(row) -> list[str]:
    if row.error is not None:
        ratio, met = "not available", row.error
    elif row.kind == "time":
        ratio, met = f"{row.ratio:.2f}x time", "yes" if row.met else "NO"
    else:
        ratio, met = f"{row.ratio:.1f}x faster", "yes" if row.met else "NO"
    return [
        row.name,
        _format_time(row.sparsekit),
        f"{_format_time(row.baseline)} ({row.baseline_name})",
        ratio,
        row.target_text(),
        met,
    ]


def _print_table(rows, info) -> None:
    headers = ["row", "sparsekit", "baseline", "ratio", "target", "met?"]
    title = (
        f"sparsekit benchmarks: backend={info['backend']}, "
        f"devices={info.get('devices')}, cpus={info['cpu_count']}"
    )
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        table = [headers] + [_cells(r) for r in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
        for line in table:
            print(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    else:
        table = Table(title=title)
        for header in headers:
            table.add_column(header, overflow="fold")
        for row in rows:
            table.add_row(*_cells(row))
        Console(width=max(160, Console().width)).print(table)
    for row in rows:
        extra = {
            k: row.notes[k]
            for k in (
                "throughput",
                "empty_loop_iteration_s",
                "empty_call_s",
                "fista_iterations",
                "relative_gap",
                "students",
                "nbgrader_autograde_plus_feedback_s",
                "ratio_vs_autograde_plus_feedback",
                "same_csv",
                "two_plain_notebooks_at_once_speedup",
            )
            if k in row.notes
        }
        if extra:
            print(f"  {row.name}: {extra}")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _set_device(args.device)
    # Imported here: the environment above must be set before Keras loads.
    from benchmarks import fista, grading, matmul, pruning, sae, topk_train
    from benchmarks._timing import NotAvailable, machine_info

    modules = {"topk_train": topk_train, "matmul": matmul}
    modules.update(fista=fista, pruning=pruning, sae=sae, grading=grading)
    specs = [spec for group in GROUPS for spec in modules[group].SPECS]
    specs = _selected(specs, args.rows)
    info = machine_info(args.device)
    if args.device == "gpu":
        info["gpu"] = _check_gpu()
    info["quick"] = args.quick
    rows = []
    start = time.perf_counter()
    for spec in specs:
        row = spec.template
        began = time.perf_counter()
        print(f"[bench] {spec.key} ...", file=sys.stderr, flush=True)
        try:
            spec.measure(row, args.quick)
        except (NotImplementedError, NotAvailable, ImportError, AttributeError) as e:
            row.sparsekit = row.baseline = None
            row.error = f"{type(e).__name__}: {e}"
        except Exception as e:  # a broken row must not hide the others
            row.sparsekit = row.baseline = None
            row.error = f"{type(e).__name__}: {e}"
            traceback.print_exc()
        row.notes["row_seconds"] = time.perf_counter() - began
        rows.append(row)
    info["total_seconds"] = time.perf_counter() - start
    info["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    _print_table(rows, info)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "rows": [r.to_json() for r in rows]}
    args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
