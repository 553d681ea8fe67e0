"""Building the website into a new directory and swapping it in, whole or in part.

The site lives under `DIKO_SITE_DIR`: `builds/<build id>/` holds one complete site,
`current` is a symbolic link to the one served. A build writes a new directory next to
it and replaces the link with `os.replace` (atomic on POSIX): a reader (media's /site,
or nginx on the same volume) sees the old site or the new one, never half of one. The
previous build stays until the next swap, so that a request already reading it ends.

A full build renders every page. After that, a build renders only the pages its change
marks touch and hard-links every other file from the current directory, so one event
costs a few page renders and a directory of links. A process that finds the last build
recorded in the database was not its own (another replica built, or it just started)
builds in full.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from diko_media.links import Links
from diko_media.site import assets
from diko_media.site import photos as site_photos
from diko_media.site import store as site_store
from diko_media.site.model import Position, SiteData
from diko_media.site.pages import Renderer, Rows, SiteInfo, all_paths, touched
from diko_shared.contract.media import SiteRebuilt
from diko_shared.due import DueContext

#: Builds kept besides the current one (a reader may still be on it).
KEEP = 1


SUFFIXES = (".html", ".xml", ".txt")


def file_of(path: str) -> str:
    """The file a page path is written to: `stellen/` → `stellen/index.html`,
    `stellen/pos_…` → `stellen/pos_….html` (one file, no directory per page: a rebuild
    links thousands of files, and a directory each would double that)."""
    if path.endswith("/") or path == "":
        return path + "index.html"
    return path if path.endswith(SUFFIXES) else path + ".html"


@dataclass
class Outcome:
    build_id: str
    full: bool
    files: int
    written: int
    removed: int
    seconds: float


@dataclass
class SiteBuilder:
    root: Path
    info: SiteInfo
    links: Links
    data: SiteData | None = None
    #: Every build this process made: a build recorded by another is a reason to start over.
    mine: set[str] = field(default_factory=set)
    #: The files of the current build and the SHA-256 of each.
    files: dict[str, str] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Rendered list entries, kept between builds (see Renderer).
    rows: Rows = field(default_factory=dict)
    #: What each listing page of the current build shows (`Renderer.listing_print`), by
    #: path: every listing page there is.
    prints: dict[str, tuple[object, ...]] = field(default_factory=dict)
    #: The filter links of the current build (every listing page shows them).
    filters: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def current(self) -> Path:
        return self.root / "current"

    async def run(self, ctx: DueContext) -> None:
        """The due item `site.build`: build what changed, record it, announce it."""
        async with self.lock:
            marks = await site_store.changes(ctx.db)
            last = await site_store.last_build(ctx.db)
            full = (
                self.data is None
                or (last is not None and last not in self.mine)
                or not self.current.exists()
            )
            if not marks and not full:
                return
            build_id = ctx.new_id("sit")
            outcome = await self.build(ctx.db, list(marks), build_id, full=full)
            self.mine.add(build_id)
        ctx.write(*site_store.built(marks), site_store.record_build(build_id, ctx.now))
        if outcome.full or outcome.written or outcome.removed:
            ctx.emit(
                SiteRebuilt(
                    build_id=build_id,
                    url=self.info.url,
                    full=outcome.full,
                    pages=outcome.files,
                    written=outcome.written,
                    removed=outcome.removed,
                    seconds=round(outcome.seconds, 3),
                )
            )

    async def build(self, db, marks: list[str], build_id: str, *, full: bool) -> Outcome:
        began = time.perf_counter()
        if full or self.data is None:
            self.data = SiteData(self.links)
            await self.data.load_all(db)
            self.rows = {}
            renderer = Renderer(self.data, self.info, self.rows)
            pages = all_paths(self.data, renderer.facets)
            self.prints = {}
            self._unchanged(renderer, pages, set(), again=True)
            target = await asyncio.to_thread(self._fresh, build_id)
            photos = await self._place_photos(db, target)
            outcome = await asyncio.to_thread(self._write_full, renderer, pages, target, photos)
        else:
            before = self._concerned(marks)
            episodes_before = self.data.episode_companies()
            await self.data.reload(db, marks)
            after = self._concerned(marks)
            companies = {m.partition(":")[2] for m in marks if m.startswith("company:")}
            if any(m.startswith("episodes:") for m in marks):
                # A company's page lists its episodes: those of a new or a changed episode.
                companies |= episodes_before | self.data.episode_companies()
            changed = {p.position_id for p in (*before, *after)}
            for position_id in changed:
                self.rows.pop(position_id, None)
            renderer = Renderer(self.data, self.info, self.rows)
            keys = touched(self.data, [*before, *after], companies, renderer.towns)
            # A new or a gone occupation, start year or town: every listing page shows
            # the filter links, so every one is rendered again.
            again = renderer.filters != self.filters
            if again:
                keys |= set(renderer.facets.counts())
            pages = renderer.expand(keys, self.prints)
            pages -= self._unchanged(renderer, pages, changed, again=again)
            target = await asyncio.to_thread(self._fresh, build_id)
            photos = await self._place_photos(db, target)
            outcome = await asyncio.to_thread(self._write_changed, renderer, pages, target, photos)
        self.filters = renderer.filters
        outcome.seconds = time.perf_counter() - began
        # Deleting an old build's thousands of files is slow and nobody waits for it.
        asyncio.get_running_loop().run_in_executor(None, self._prune)
        return outcome

    def _unchanged(
        self, renderer: Renderer, pages: set[str], changed: set[str], *, again: bool
    ) -> set[str]:
        """The listing pages among `pages` that would come out as they are (none if
        `again`): the same positions on them (none of which changed), the same number of
        pages, the same count on the first. Records what each listing page shows now."""
        same = set()
        for path in pages:
            seen = renderer.listing_print(path)
            if seen is None:
                self.prints.pop(path, None)
                continue
            if not again and self.prints.get(path) == seen and changed.isdisjoint(seen[0]):
                same.add(path)
            self.prints[path] = seen
        return same

    def _concerned(self, marks: list[str]) -> list[Position]:
        """The open positions the marks concern, as the data has them now."""
        assert self.data is not None
        positions = self.data.all_positions
        ids = {m.partition(":")[2] for m in marks if m.startswith("position:")}
        companies = {m.partition(":")[2] for m in marks if m.startswith("company:")}
        return [p for p in positions.values() if p.position_id in ids or p.company_id in companies]

    async def _place_photos(self, db, target: Path) -> dict[str, str]:
        """The photos of the companies shown, into the new build: linked from the current
        build where it has the file (a photo's files never change under their name), read
        from the database where not, one at a time. Those of companies no longer shown
        are not placed, so they leave with the build. Their names and SHA-256."""
        assert self.data is not None
        wanted = self.data.photo_files()
        source = self.current.resolve() if self.current.exists() else None
        placed: dict[str, str] = {}
        for name, variant in wanted.items():
            path = target / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if source is not None and (source / name).is_file():
                os.link(source / name, path)
            else:
                data = await site_photos.file_bytes(db, variant.file_id)
                if data is None:  # removed while this build ran: the next one drops it
                    continue
                await asyncio.to_thread(path.write_bytes, data)
            placed[name] = variant.sha256
        return placed

    # -- writing (in a worker thread) ---------------------------------------------------

    def _write_full(
        self, renderer: Renderer, pages: set[str], target: Path, photos: dict[str, str]
    ) -> Outcome:
        build_id = target.name.removesuffix(".tmp")
        files: dict[str, str] = dict(photos)
        for name, body in assets.files().items():
            files[name] = _write(target / name, body)
        for path in pages:
            body = renderer.render(path)
            if body is not None:
                files[file_of(path)] = _write(target / file_of(path), body)
        written = sum(1 for f, h in files.items() if self.files.get(f) != h)
        removed = len(set(self.files) - set(files))
        self._swap(target, build_id)
        self.files = files
        return Outcome(build_id, True, len(files), written, removed, 0.0)

    def _write_changed(
        self, renderer: Renderer, pages: set[str], target: Path, photos: dict[str, str]
    ) -> Outcome:
        build_id = target.name.removesuffix(".tmp")
        source = self.current.resolve()
        before = {n for n in self.files if n.startswith(site_photos.FOLDER + "/")}
        files = {n: h for n, h in self.files.items() if n not in before}
        files.update(photos)
        rendered: dict[str, bytes | None] = {file_of(p): renderer.render(p) for p in pages}
        written = len(set(photos) - before)
        removed = len(before - set(photos))
        for name, body in rendered.items():
            if body is None:
                removed += files.pop(name, None) is not None
            else:
                digest = hashlib.sha256(body).hexdigest()
                written += files.get(name) != digest
                files[name] = digest
        # The directories once each, then one system call per file: a rebuild links
        # thousands of files, and a `mkdir` per file doubled the time that takes.
        for folder in sorted({os.path.dirname(name) for name in files}):
            if folder:
                (target / folder).mkdir(parents=True, exist_ok=True)
        source_dir, target_dir = os.fspath(source), os.fspath(target)
        for name in files:
            if name in photos:  # placed already
                continue
            body = rendered.get(name)
            if body is None:
                os.link(os.path.join(source_dir, name), os.path.join(target_dir, name))
            else:
                with open(os.path.join(target_dir, name), "wb") as out:
                    out.write(body)
        self._swap(target, build_id)
        self.files = files
        return Outcome(build_id, False, len(files), written, removed, 0.0)

    def _fresh(self, build_id: str) -> Path:
        target = self.root / "builds" / f"{build_id}.tmp"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        return target

    def _swap(self, target: Path, build_id: str) -> None:
        """Put the finished directory in place, point `current` at it, drop old builds."""
        final = target.with_name(build_id)
        shutil.rmtree(final, ignore_errors=True)
        target.rename(final)
        link = self.root / "current.tmp"
        link.unlink(missing_ok=True)
        link.symlink_to(Path("builds") / build_id)
        os.replace(link, self.current)

    def _prune(self) -> None:
        """Delete the builds before the previous one (a reader may still be on that)."""
        current = self.current.resolve().name
        builds = sorted(
            (p for p in (self.root / "builds").iterdir() if p.name != current),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
        for old in builds[KEEP:]:
            shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, body: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return hashlib.sha256(body).hexdigest()
