"""Media benchmarks: rendering a post, and serving a feed of 500 episodes.

Run from the repository root: `python -m bench.media` (or `make bench BENCH=media`; the
feed part needs `make stack`). Prints a table and writes `bench/results/media.json`.
Every figure is set against a raw floor measured in the same run:

- render: every kind of post (all its slides as JPEG, as the kit or the publisher draws
  them when nobody has looked at the post yet; a draft draws nothing) in both formats,
  median of repeated runs in
  CPU time of the process (rendering is single-threaded; the wall time, also written,
  stretches with whatever else the shared machine runs). Goal: at most 150 ms per post.
  The floor is Pillow encoding the same pixels to JPEG (with the renderer's settings) and
  nothing else: what any renderer of these images pays. Beside it, what the first
  request of a slide's PNG costs (`render_stored`: the PNG and the JPEG of the same
  pixels, kept together), against encoding its pixels to PNG and JPEG.
- feed: the media service as an OS process on a private virtual host and database of
  the local stack, 500 published episodes (each with show notes, two persons, chapters
  and a transcript) in its database. The first request builds the feed; then the median
  of repeated GETs with the full body, and of repeated GETs with the ETag
  (`If-None-Match`, answered 304). Goal: at most 50 ms. The floor is `GET /healthz` of
  the same process over the same connection: the HTTP round trip with no work behind it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from PIL import Image  # noqa: E402
from pymongo import MongoClient  # noqa: E402

from diko_media.graphics.render import JPEG_QUALITY, PNG_COMPRESS_LEVEL  # noqa: E402
from diko_media.posts import content  # noqa: E402
from diko_media.posts.drafting import Draft, document, render_slides, render_stored  # noqa: E402
from diko_shared.contract.media import (  # noqa: E402
    AzubiContent,
    FairContent,
    PresentationContent,
    SuccessContent,
)
from harness.processes import ServiceProcess, free_port  # noqa: E402
from harness.stack import SessionStack  # noqa: E402

RESULTS = ROOT / "bench" / "results"
RENDER_GOAL_MS = 150.0
#: When the benchmark's posts were drafted (their documents, for the PNG of a first request).
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
FEED_GOAL_MS = 50.0
COMPANY = "Tischlerei Müller & Söhne GmbH"
VTT = (
    "WEBVTT\n\n00:00:00.000 --> 00:00:05.000\n<v Birte Albrecht>Willkommen bei „DIKO trifft…“!\n\n"
    "00:00:05.000 --> 00:00:11.000\n<v Jana Müller>Schön, dass Sie da sind.\n"
)
NOTES = (
    "<p>Jana Müller leitet die Ausbildung der <strong>Tischlerei Müller</strong> in Stendal."
    "</p><ul><li>Was ein Praktikum zeigt</li><li>Berufsschule und Betrieb</li></ul>"
)


def every_post() -> list[content.Written]:
    """One post of every kind, with the long texts the layouts must fit."""
    return [
        content.azubi(
            AzubiContent(occupation="Tischler/in", town="Stendal", start_date=date(2027, 8, 1)),
            COMPANY,
        ),
        content.success(
            SuccessContent(
                occupation="Kaufmann/-frau für Büromanagement",
                town="Tangermünde",
                start_date=date(2027, 8, 1),
                apprentice="Lena",
                quote="Ich freue mich riesig auf den Start!",
            ),
            COMPANY,
        ),
        content.presentation(
            PresentationContent(
                town="Stendal",
                industry="Handwerk",
                about="Wir bauen Möbel, Treppen und Küchen nach Maß – seit drei Generationen.",
                facts=["seit 1952", "14 Mitarbeitende", "2 Azubis pro Jahr"],
                occupations=["Tischler/in", "Holzmechaniker/in"],
                website="https://www.tischlerei-mueller.example/",
            ),
            COMPANY,
        ),
        content.fair(
            FairContent(
                title="Bewerberbörse Stendal",
                date=date(2027, 3, 13),
                start="09:00",
                end="13:00",
                venue="Berufsbildende Schulen Stendal",
                town="Stendal",
                companies=12,
            ),
            COMPANY,
        ),
        content.episode(
            content.EpisodeFacts(
                "Wie die Tischlerei ihre Azubis findet", 22, ("Jana Müller",), COMPANY
            )
        ),
    ]


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


def bench_render(runs: int) -> list[dict[str, Any]]:
    rows = []
    for written in every_post():
        for fmt in ("portrait", "square"):
            # fonts and logo loaded once, as in a running service; the pixels for the floors
            eager = render_slides(written, fmt)
            pixels = [Image.open(io.BytesIO(s.image.png)).convert("RGB") for s in eager]  # type: ignore[arg-type]
            post = document(Draft("pst_0123456789abcdef0123", written, fmt, None, None), now=NOW)
            times, walls, floors, pngs, png_floors = [], [], [], [], []
            for _ in range(runs):
                t, w = time.process_time(), time.perf_counter()
                slides = render_slides(written, fmt, png=False)
                times.append(time.process_time() - t)
                walls.append(time.perf_counter() - w)
                t = time.process_time()
                for image in pixels:
                    image.save(io.BytesIO(), "JPEG", quality=JPEG_QUALITY, subsampling=0)
                floors.append(time.process_time() - t)
                t = time.process_time()
                render_stored(post, 1, png=True, jpeg=True)
                pngs.append(time.process_time() - t)
                t = time.process_time()
                pixels[0].save(io.BytesIO(), "PNG", compress_level=PNG_COMPRESS_LEVEL)
                pixels[0].save(io.BytesIO(), "JPEG", quality=JPEG_QUALITY, subsampling=0)
                png_floors.append(time.process_time() - t)
            rows.append(
                {
                    "kind": written.kind,
                    "format": fmt,
                    "slides": len(slides),
                    "median_ms": _ms(times),
                    "per_slide_ms": _ms(times) / len(slides),
                    "wall_median_ms": _ms(walls),
                    "floor_ms": _ms(floors),
                    "ratio": _ms(times) / _ms(floors),
                    "first_png_ms": _ms(pngs),
                    "png_floor_ms": _ms(png_floors),
                    "goal_ms": RENDER_GOAL_MS,
                    "met": _ms(times) <= RENDER_GOAL_MS,
                }
            )
    return rows


def episode(number: int) -> dict[str, Any]:
    """Published episode `number` as media stores it, with everything the feed writes."""
    return {
        "_id": f"epi_{number:020x}",
        "title": f"DIKO trifft… Folge {number}: die Tischlerei Müller",
        "description": f"Folge {number}: ein Betrieb aus der Altmark erzählt, wie er ausbildet.",
        "show_notes": NOTES,
        "audio": {
            "id": f"aud_{number:020x}",
            "type": "audio/mpeg",
            "extension": "mp3",
            "size": 28_311_552 + number,
            "duration_s": 1769,
            "sha256": "0" * 64,
        },
        "image": None,
        "company_id": None,
        "episode_number": number,
        "season": 1 + number // 50,
        "explicit": False,
        "persons": [
            {"name": "Birte Albrecht", "role": "host"},
            {"name": "Jana Müller", "role": "guest"},
        ],
        "chapters": [
            {"start_s": 0, "title": "Begrüßung"},
            {"start_s": 300, "title": "Der erste Tag als Azubi"},
            {"start_s": 900, "title": "Praktikum, Berufsschule, Prüfung"},
        ],
        "transcript": {"format": "text/vtt", "text": VTT},
        "status": "published",
        "published_at": datetime(2017, 1, 1, 8, 30, tzinfo=UTC) + timedelta(days=7 * number),
        "created_at": datetime.now(UTC),
    }


def timed(client: httpx.Client, url: str, runs: int, **headers: str) -> tuple[list[float], int]:
    samples, status = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append(time.perf_counter() - t)
        status = response.status_code
    return samples, status


def bench_feed(episodes: int, runs: int) -> dict[str, Any]:
    stack = SessionStack.create()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **stack.service_env("media"),
        "DIKO_PUBLIC_BASE_URL": base,
        "DIKO_LINK_SECRET": "bench-media-link-secret-0123456789abcdef",
        "DIKO_LOG_LEVEL": "WARNING",
    }
    try:
        with MongoClient(stack.mongo_url) as mongo:
            mongo[stack.database("media")]["episodes"].insert_many(
                [episode(n) for n in range(1, episodes + 1)]
            )
        process = ServiceProcess("bench-media", "diko_media", port, env)
        process.start()
        try:
            with httpx.Client(timeout=60.0) as client:
                feed = f"{base}/podcast/feed.xml"
                t = time.perf_counter()
                first = client.get(feed)
                first_ms = (time.perf_counter() - t) * 1e3
                items = first.text.count("<item>")
                if first.status_code != 200 or items != episodes:
                    raise RuntimeError(f"feed: HTTP {first.status_code}, {items} items")
                etag = first.headers["etag"]
                full, _ = timed(client, feed, runs)
                repeat, status = timed(client, feed, runs, **{"If-None-Match": etag})
                if status != 304:
                    raise RuntimeError(f"feed with its ETag: HTTP {status}, not 304")
                floor, _ = timed(client, f"{base}/healthz", runs)
        finally:
            process.stop()
    finally:
        stack.destroy()
    return {
        "episodes": episodes,
        "bytes": len(first.content),
        "first_ms": first_ms,
        "median_ms": _ms(full),
        "p95_ms": sorted(full)[int(len(full) * 0.95)] * 1e3,
        "median_304_ms": _ms(repeat),
        "floor_ms": _ms(floor),
        "ratio": _ms(full) / _ms(floor),
        "ratio_304": _ms(repeat) / _ms(floor),
        "goal_ms": FEED_GOAL_MS,
        "met": _ms(full) <= FEED_GOAL_MS and _ms(repeat) <= FEED_GOAL_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="renders per post and format")
    parser.add_argument("--requests", type=int, default=200, help="GETs per kind of request")
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--no-feed", action="store_true", help="skip the feed (no stack)")
    args = parser.parse_args()

    render = bench_render(args.runs)
    print(
        f"{'post':<14}{'format':<10}{'slides':>7}{'cpu ms':>9}{'per slide':>10}{'wall ms':>9}"
        f"{'floor ms':>10}{'ratio':>7}{'1st PNG':>9}{'floor':>7}"
    )
    for row in render:
        print(
            f"{row['kind']:<14}{row['format']:<10}{row['slides']:>7}{row['median_ms']:>9.1f}"
            f"{row['per_slide_ms']:>10.1f}{row['wall_median_ms']:>9.1f}{row['floor_ms']:>10.1f}"
            f"{row['ratio']:>7.2f}{row['first_png_ms']:>9.1f}{row['png_floor_ms']:>7.1f}"
            f"{'' if row['met'] else '  over goal'}"
        )
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average": os.getloadavg()[0],
        "render": render,
    }
    earlier = RESULTS / "media.json"
    if args.no_feed and earlier.exists():
        # The feed's figures of the last run that measured it stay, with their time.
        before = json.loads(earlier.read_text())
        if "feed" in before:
            result["feed"] = before["feed"]
            result["feed"].setdefault("measured_at", before.get("measured_at"))
    if not args.no_feed:
        feed = bench_feed(args.episodes, args.requests)
        result["feed"] = feed
        print(
            f"\nfeed of {feed['episodes']} episodes ({feed['bytes'] / 1e6:.1f} MB): first "
            f"{feed['first_ms']:.0f} ms, then median {feed['median_ms']:.1f} ms (p95 "
            f"{feed['p95_ms']:.1f}), 304 {feed['median_304_ms']:.1f} ms; floor GET /healthz "
            f"{feed['floor_ms']:.1f} ms; ratio {feed['ratio']:.1f} / {feed['ratio_304']:.1f}"
            f"{'' if feed['met'] else '  over goal'}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "media.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {(RESULTS / 'media.json').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
