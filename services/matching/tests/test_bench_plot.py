"""The benchmark's scaling plot (bench/matching/run.py): every label inside the picture."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _bench_run():
    spec = importlib.util.spec_from_file_location(
        "bench_matching_run", ROOT / "bench/matching/run.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_speed_up_labels_lie_inside_the_axes():
    rows = json.loads((ROOT / "bench/results/matching.json").read_text(encoding="utf-8"))["stable"]
    fig = _bench_run().scaling_figure(rows)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    [ax] = fig.axes
    frame = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if t.get_text().startswith("×")]
    largest = f"×{rows[-1]['package_s'] / rows[-1]['ours_s']:.0f}"
    assert [t.get_text() for t in labels][-1] == largest
    for label in labels:
        box = label.get_window_extent(renderer)
        assert frame.x0 <= box.x0, label.get_text()
        assert box.x1 <= frame.x1, label.get_text()  # the last label once ran past the edge
        assert frame.y0 <= box.y0, label.get_text()
        assert box.y1 <= frame.y1, label.get_text()
