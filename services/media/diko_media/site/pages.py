"""The website's pages: which exist, what each shows, and which a change touches.

A page is named by its path under the site's root (`stellen/pos_…/`, `sitemap.xml`); a
path ending in `/` is written as `index.html` in that directory. Links between pages are
relative, so the same files work under media's `/site` and at the root of a web server;
canonical URLs, Open Graph tags and the sitemap use the configured site URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from markupsafe import escape as escape_html

from diko_media.site.model import Company, Position, SiteData, slug
from diko_shared.german import NBSP, long_date
from diko_shared.text import clean, finalize

BERLIN = ZoneInfo("Europe/Berlin")
#: Positions per listing page: a page stays far under 300 KB, and a change touches few.
PER_PAGE = 100
#: The distances the open positions can be filtered by around a town.
RADII_KM = (10, 25)
NEWEST = 6
CERTIFICATES = {
    "none": "kein bestimmter Schulabschluss",
    "hauptschule": "Hauptschulabschluss",
    "realschule": "Realschulabschluss",
    "abitur": "Abitur oder Fachhochschulreife",
}
EDUCATION = {
    "hauptschule": "high school",
    "realschule": "high school",
    "abitur": "high school",
}

ENVIRONMENT = Environment(
    loader=PackageLoader("diko_media.site", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "xml"), default=True),
    undefined=StrictUndefined,
    finalize=finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    # The templates are package data: no `stat` of each file at every page.
    auto_reload=False,
)
ENVIRONMENT.filters["date"] = lambda d: long_date(d, space=NBSP)
ENVIRONMENT.filters["certificate"] = lambda c: CERTIFICATES.get(c, c)
ENVIRONMENT.filters["slug"] = slug


@dataclass(frozen=True)
class SiteInfo:
    """What the configuration says about the site: its address and its legal pages."""

    url: str
    name: str
    contact_email: str
    impressum: str
    privacy: str
    today: Callable[[], date]
    #: matching's registration form (`DIKO_SITE_REGISTRATION_URL`); empty: not linked.
    registration_url: str = ""

    def absolute(self, path: str) -> str:
        return self.url.rstrip("/") + "/" + path


# -- which pages exist --------------------------------------------------------------------


def page_count(count: int) -> int:
    return max(1, count // PER_PAGE)


def listing_pages(key: str, count: int) -> list[str]:
    """The paths of a paginated listing of `count` entries (at least its first page):
    `stellen/`, `stellen/seite-2`; `stellen/beruf/tischler-in`, `…/tischler-in-seite-2`."""
    return [key] + [f"{key}{_next(key)}{n}" for n in range(2, page_count(count) + 1)]


def page_slice(count: int, number: int) -> slice:
    """Which entries of a list (newest or nearest first) page `number` shows.

    The pages are counted off from the list's end: every page but the first holds
    exactly `PER_PAGE`, the first the rest (`PER_PAGE` to twice that, less one). A new
    position at the top changes the first page only, and one taken off changes the pages
    before its own, not those after: an event renders a few pages of a long list, not
    all of them (until the list gains or loses a page)."""
    pages = page_count(count)
    if number == 1:
        return slice(0, count - PER_PAGE * (pages - 1))
    end = count - PER_PAGE * (pages - number)
    return slice(end - PER_PAGE, end)


def _next(key: str) -> str:
    return "seite-" if key.endswith("/") else "-seite-"


def split_page(path: str) -> tuple[str, int]:
    """A listing page's key and number: `stellen/ort/stendal-10-km-seite-3` → (…-km, 3)."""
    head, marker, number = path.rpartition("seite-")
    if marker and number.isdigit():
        if head.endswith("/"):
            return head, int(number)
        if head.endswith("-"):
            return head[:-1], int(number)
    return path, 1


class Facets:
    """Every filtered list of open positions by its key: occupation, start year, town and
    radius. A build renders few of the town lists (120 of them, the longest), so each is
    made when first asked for; the sitemap needs only their lengths."""

    def __init__(self, data: SiteData, positions: dict[str, Position]) -> None:
        self.data = data
        self.ordered = newest_first(positions.values())
        self.lists: dict[str, list[Position]] = {"stellen/": self.ordered}
        self.by_town: dict[str, list[Position]] = {}
        for p in self.ordered:
            self.lists.setdefault(f"stellen/beruf/{slug(p.occupation)}", []).append(p)
            self.lists.setdefault(f"stellen/beginn/{p.year}", []).append(p)
            self.by_town.setdefault(p.town, []).append(p)
        self.towns = sorted(self.by_town)
        self.town_keys = {town_key(t, r): (t, r) for t in self.towns for r in RADII_KM}

    def get(self, key: str, default: list[Position] | None = None) -> list[Position] | None:
        found = self.lists.get(key)
        if found is None and key in self.town_keys:
            town, radius = self.town_keys[key]
            found = self.lists[key] = near(self.data, town, radius, self.by_town)
        return default if found is None else found

    def __getitem__(self, key: str) -> list[Position]:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return key in self.lists or key in self.town_keys

    def counts(self) -> dict[str, int]:
        """How many positions each list has (the town lists counted, not made)."""
        counts = {k: len(v) for k, v in self.lists.items() if k not in self.town_keys}
        for key, (town, radius) in self.town_keys.items():
            counts[key] = sum(
                len(listed)
                for other, listed in self.by_town.items()
                if (km := self.data.town_km(town, other)) is not None and km <= radius
            )
        return counts


def facets(data: SiteData) -> Facets:
    return Facets(data, data.positions)


def town_key(town: str, radius: int) -> str:
    return f"stellen/ort/{slug(town)}-{radius}-km"


def near(
    data: SiteData, town: str, radius: int, by_town: dict[str, list[Position]]
) -> list[Position]:
    """Positions in the town and within `radius` km of it, nearest first (newest first
    within one town)."""
    hits: list[tuple[float, list[Position]]] = []
    for other, listed in by_town.items():
        km = data.town_km(town, other)
        if km is not None and km <= radius:
            hits.append((km, listed))
    hits.sort(key=lambda h: h[0])
    return [p for _, listed in hits for p in listed]


def newest_first(positions: Iterable[Position]) -> list[Position]:
    return sorted(positions, key=lambda p: (p.posted_at, p.position_id), reverse=True)


def all_paths(data: SiteData, found: Facets | None = None) -> set[str]:
    paths = {"", "stellen/", "betriebe/", "podcast/", "impressum/", "datenschutz/",
             "sitemap.xml", "robots.txt", "404.html"}  # fmt: skip
    paths.update(f"betriebe/{c}" for c in data.companies)
    paths.update(f"stellen/{p}" for p in data.positions)
    for key, count in (facets(data) if found is None else found).counts().items():
        paths.update(listing_pages(key, count))
    return paths


def touched(
    data: SiteData, positions: Iterable[Position], companies: Iterable[str], towns: Iterable[str]
) -> set[str]:
    """The pages a change of these positions and companies touches (before or after it);
    `towns`: those with open positions now."""
    towns = set(towns)
    paths = {"", "stellen/", "betriebe/", "sitemap.xml", "podcast/"}
    for company_id in companies:
        paths.add(f"betriebe/{company_id}")
    for p in positions:
        paths.add(f"stellen/{p.position_id}")
        paths.add(f"betriebe/{p.company_id}")
        paths.add(f"stellen/beruf/{slug(p.occupation)}")
        paths.add(f"stellen/beginn/{p.year}")
        for town in towns | {p.town}:
            km = data.town_km(town, p.town)
            for radius in RADII_KM:
                if km is not None and km <= radius:
                    paths.add(town_key(town, radius))
    return paths


# -- rendering ----------------------------------------------------------------------------

#: Rendered list entries: position id → (link prefix, distance shown) → the entry.
Rows = dict[str, dict[tuple[str, int | None], Markup]]


class Renderer:
    """Renders one build's pages from one state of the data; listings are computed once."""

    def __init__(
        self,
        data: SiteData,
        info: SiteInfo,
        rows: Rows | None = None,
    ) -> None:
        """`rows`: the list entries of earlier builds by position, kept by the builder
        without those of the positions and companies that changed since."""
        self.data = data
        self.info = info
        self.today = info.today()
        self.positions = data.positions
        self.facets = Facets(data, self.positions)
        self.towns = self.facets.towns
        self.filters = self._filters()
        self._rows = {} if rows is None else rows
        self._chip_blocks: dict[tuple[str, str, str | None], Markup] = {}
        self.by_company: dict[str, list[Position]] = {}
        for p in self.facets.ordered:
            self.by_company.setdefault(p.company_id, []).append(p)

    def expand(self, keys: Iterable[str], known: Iterable[str]) -> set[str]:
        """Listing keys grow to every page they have now and had before (`known`)."""
        later_pages: dict[str, list[str]] = {}
        for path in known:
            key, number = split_page(path)
            if number > 1:
                later_pages.setdefault(key, []).append(path)
        paths: set[str] = set()
        for key in keys:
            paths.add(key)
            if (
                key in self.facets
                or key.startswith(("stellen/beruf/", "stellen/beginn/"))
                or "/ort/" in key
            ):
                paths.update(listing_pages(key, len(self.facets.get(key, []))))
                paths.update(later_pages.get(key, ()))
        return paths

    def listing_print(self, path: str) -> tuple[object, ...] | None:
        """What a listing page shows, in short (None for other pages): the same print
        and none of its positions changed, the same page (the filter links aside, which
        the builder watches itself)."""
        key, number = split_page(path)
        if key not in self.facets:
            return None
        listed = self.facets.get(key) or []
        pages = page_count(len(listed))
        if number > pages:
            return None
        shown = tuple(p.position_id for p in listed[page_slice(len(listed), number)])
        return shown, pages, len(listed) if number == 1 else None

    def render(self, path: str) -> bytes | None:
        """The page's bytes, or None if it does not exist (any more)."""
        if path == "":
            title = "Ausbildung in der Altmark"
            return self._page("start.html", path, title=title, **self._start())
        if path == "robots.txt":
            sitemap = self.info.absolute("sitemap.xml")
            return f"User-agent: *\nAllow: /\nSitemap: {sitemap}\n".encode()
        if path == "sitemap.xml":
            return self._sitemap()
        if path == "404.html":
            return self._page("missing.html", path, title="Nicht gefunden", noindex=True)
        if path == "impressum/":
            return self._page("legal.html", path, title="Impressum", text=self.info.impressum)
        if path == "datenschutz/":
            return self._page(
                "legal.html", path, title="Datenschutzerklärung", text=self.info.privacy
            )
        if path == "podcast/":
            return self._page("podcast.html", path, title="Podcast „DIKO trifft…“",
                              episodes=self.data.episodes)  # fmt: skip
        if path == "betriebe/":
            companies = sorted(self.data.companies.values(), key=lambda c: c.name.lower())
            return self._page("companies.html", path, title="Betriebe, die ausbilden",
                              companies=companies, open_count=self._open_count)  # fmt: skip
        parts = path.split("/")
        if parts[0] == "betriebe" and len(parts) == 2 and parts[1]:
            return self._company(path, parts[1])
        if parts[0] == "stellen" and len(parts) == 2 and parts[1].startswith("pos_"):
            return self._position(path, parts[1])
        return self._listing(path)

    def _open_count(self, company_id: str) -> int:
        return len(self.by_company.get(company_id, []))

    def _start(self) -> dict[str, Any]:
        fairs = sorted(
            (f for f in self.data.fairs.values() if f.day >= self.today), key=lambda f: f.day
        )
        return {
            "newest": newest_first(self.positions.values())[:NEWEST],
            "distances": {},
            "episode": self.data.episodes[0] if self.data.episodes else None,
            "fair": fairs[0] if fairs else None,
            "companies": self.data.companies,
            "position_count": len(self.positions),
            "company_count": len(self.data.companies),
        }

    def _company(self, path: str, company_id: str) -> bytes | None:
        company = self.data.companies.get(company_id)
        if company is None:
            return None
        return self._page(
            "company.html",
            path,
            title=company.name,
            description=_sentence(company.about)
            or f"{company.name} in {company.town} bildet aus – offene Ausbildungsplätze "
            "und wie du dich bewirbst.",
            company=company,
            positions=self.by_company.get(company_id, []),
            episodes=self.data.company_episodes(company_id),
            companies={company_id: company},
            distances={},
            og_type="profile",
            og_image=company.photos[0].largest.path if company.photos else None,
        )

    def _position(self, path: str, position_id: str) -> bytes | None:
        position = self.positions.get(position_id)
        if position is None:
            return None
        company = self.data.companies[position.company_id]
        description = position_description(position, company)
        return self._page(
            "position.html",
            path,
            title=f"Ausbildung {position.occupation} bei {company.name}",
            description=description,
            position=position,
            company=company,
            text=description,
            json_ld=Markup(job_posting_json(position, company, self.data, description)),
        )

    def _listing(self, path: str) -> bytes | None:
        key, number = split_page(path)
        listed = self.facets.get(key)
        if listed is None or (not listed and key != "stellen/"):
            return None
        pages = listing_pages(key, len(listed))
        if number > len(pages):
            return None
        shown = listed[page_slice(len(listed), number)]
        heading, centre = self._listing_heading(key)
        distances: dict[str, int] = {}
        if centre:
            by_town = {town: self._km(centre, town) for town in {p.town for p in shown}}
            distances = {p.position_id: by_town[p.town] for p in shown}
        return self._page(
            "positions.html",
            path,
            title=heading if number == 1 else f"{heading} – Seite {number}",
            heading=heading,
            # Only the first page counts the list: the others stay as they are while it
            # grows or shrinks before them (see page_slice).
            description=f"{len(listed)} offene Ausbildungsplätze in der Altmark: {heading}."
            if number == 1
            else f"Offene Ausbildungsplätze in der Altmark: {heading}, Seite {number}.",
            positions=shown,
            total=len(listed),
            number=number,
            pages=pages,
            key=key,
            distances=distances,
            radii=RADII_KM,
            town_base=key.rsplit("-", 2)[0] if key.startswith("stellen/ort/") else None,
            companies=self.data.companies,
        )

    def _row(self, p: Position, prefix: str, distances: dict[str, int]) -> Markup:
        """One position in a list (a function, not a template: the listings show tens of
        thousands per build), remembered per link depth and distance."""
        km = distances.get(p.position_id)
        kept = self._rows.setdefault(p.position_id, {})
        found = kept.get((prefix, km))
        if found is None:
            company = self.data.companies[p.company_id]
            free = f"{p.free} {'Platz' if p.free == 1 else 'Plätze'} frei"
            where = escape_html(clean(p.town)) + (f" ({km} km entfernt)" if km else "")
            found = Markup(
                f'<li class="card">\n  <h3><a href="{prefix}stellen/{p.position_id}">'
                f"{escape_html(clean(p.occupation))}</a></h3>\n"
                f'  <p class="company">{escape_html(clean(company.name))}</p>\n'
                f'  <p class="facts">{where} · Beginn '
                f"{long_date(p.start_date, space=NBSP)} · {free}</p>\n</li>\n"
            )
            kept[(prefix, km)] = found
        return found

    def _chips(self, kind: str, prefix: str, current: str | None) -> Markup:
        """The filter links of one kind, the current one marked (remembered: the pages of
        one listing share them)."""
        found = self._chip_blocks.get((kind, prefix, current))
        if found is None:
            found = self._chip_block(kind, prefix, current)
            self._chip_blocks[(kind, prefix, current)] = found
        return found

    def _chip_block(self, kind: str, prefix: str, current: str | None) -> Markup:
        """Without counts: every listing page shows the filters, and a count that changes
        with each position would have every event render all of them again (or leave
        stale numbers on those it does not); the list's own page says how many it has."""
        items = []
        for label, target in self.filters[kind]:
            base = target.rsplit("-", 2)[0] if kind == "towns" else target
            mark = ' aria-current="page"' if current and base == current else ""
            items.append(
                f'      <li><a href="{prefix}{target}"{mark}>{escape_html(clean(label))}</a></li>\n'
            )
        return Markup("".join(items))

    def _km(self, centre: str, town: str) -> int:
        return round(self.data.town_km(centre, town) or 0.0)

    def _listing_heading(self, key: str) -> tuple[str, str | None]:
        parts = key.strip("/").split("/")
        if len(parts) == 1:
            return "Alle offenen Ausbildungsplätze", None
        listed = self.facets[key]
        if parts[1] == "beruf":
            return f"Ausbildung als {listed[0].occupation}", None
        if parts[1] == "beginn":
            return f"Ausbildungsbeginn {parts[2]}", None
        town_slug, radius, _ = parts[2].rsplit("-", 2)
        town = next(t for t in self._towns() if slug(t) == town_slug)
        return f"Ausbildungsplätze in {town} und bis {radius} km Umkreis", town

    def _towns(self) -> list[str]:
        return self.towns

    def _filters(self) -> dict[str, list[tuple[str, str]]]:
        """The filter links: label and target key of each list that has positions."""
        lists = self.facets.lists
        occupations = [
            (lists[key][0].occupation, key) for key in lists if key.startswith("stellen/beruf/")
        ]
        years = sorted(
            (key.rsplit("/", 1)[1], key) for key in lists if key.startswith("stellen/beginn/")
        )
        return {
            "occupations": sorted(occupations, key=lambda f: f[0].lower()),
            "years": years,
            "towns": [(town, town_key(town, RADII_KM[0])) for town in self._towns()],
        }

    def _sitemap(self) -> bytes:
        paths = sorted(
            p
            for p in all_paths(self.data, self.facets)
            if not p.endswith((".xml", ".txt", ".html"))
        )
        lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                 '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']  # fmt: skip
        lines += [f"<url><loc>{escape(self.info.absolute(p))}</loc></url>" for p in paths]
        lines.append("</urlset>\n")
        return "\n".join(lines).encode()

    def _page(self, template: str, path: str, *, title: str, **values: Any) -> bytes:
        prefix = "../" * path.count("/")

        def url(target: str) -> str:
            """A link from this page to `target` (a site path), relative (absolute from the
            404 page, which is shown at any address)."""
            if "://" in target:
                return target
            if path == "404.html":
                return self.info.absolute(target)
            return prefix + target or "./"

        def rows(positions: Iterable[Position]) -> Markup:
            distances = values.get("distances", {})
            return Markup("".join(self._row(p, prefix, distances) for p in positions))

        def chips(kind: str, current: str | None) -> Markup:
            return self._chips(kind, prefix, current)

        def pager(pages: list[str], number: int) -> Markup:
            """The links to a listing's pages (a function: the longest lists have tens)."""
            items = []
            for index, target in enumerate(pages, start=1):
                mark = ' aria-current="page"' if index == number else ""
                items.append(
                    f'    <li><a href="{escape_html(url(target))}"{mark}>'
                    f'<span class="visually-hidden">Seite </span>{index}</a></li>\n'
                )
            return Markup("".join(items).removesuffix("\n"))

        values.setdefault("description", "Ausbildungsplätze, Betriebe und der Podcast des "
                          "Netzwerks DIKO Altmark für junge Leute in der Altmark.")  # fmt: skip
        values.setdefault("og_type", "website")
        values.setdefault("og_image", None)
        values.setdefault("noindex", False)
        html = ENVIRONMENT.get_template(template).render(
            title=title,
            path=path,
            url=url,
            rows=rows,
            chips=chips,
            pager=pager,
            canonical=self.info.absolute(path),
            site=self.info,
            links=self.data.links,
            **values,
        )
        return html.encode()


def _sentence(text: str | None, limit: int = 200) -> str | None:
    if not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rsplit(" ", 1)[0] + " …"


def position_description(position: Position, company: Company) -> str:
    """What the position page and the JobPosting say about it; the company's words first."""
    told = (position.description or "").strip()
    start = long_date(position.start_date)
    facts = (
        f"{company.name} in {position.town} bietet {position.free} "
        f"{'Ausbildungsplatz' if position.free == 1 else 'Ausbildungsplätze'} als "
        f"{position.occupation} ab dem {start}. Erwartet wird: "
        f"{CERTIFICATES.get(position.school_certificate, position.school_certificate)}."
    )
    return f"{told}\n\n{facts}" if told else facts


def valid_through(position: Position) -> datetime:
    """Applications are taken until the training starts (at least four weeks from posting)."""
    end = datetime.combine(position.start_date, time(23, 59), BERLIN).astimezone(UTC)
    return max(end, position.posted_at + timedelta(days=28))


def job_posting(
    position: Position, company: Company, data: SiteData, description: str
) -> dict[str, Any]:
    """schema.org JobPosting with the properties job search requires and recommends."""
    place = data.place(position.town)
    address: dict[str, Any] = {
        "@type": "PostalAddress",
        "addressLocality": position.town,
        "addressCountry": "DE",
    }
    if place is not None:
        address["postalCode"] = place.postcode
        if place.state:
            address["addressRegion"] = place.state
    organisation: dict[str, Any] = {"@type": "Organization", "name": company.name}
    if company.website:
        organisation["sameAs"] = company.website
    posting: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": f"Ausbildung {position.occupation}",
        "description": "".join(f"<p>{escape(p)}</p>" for p in description.split("\n\n")),
        "identifier": {
            "@type": "PropertyValue",
            "name": company.name,
            "value": position.position_id,
        },
        "datePosted": position.posted_at.astimezone(BERLIN).date().isoformat(),
        "validThrough": valid_through(position).isoformat(),
        "employmentType": ["FULL_TIME"],
        "hiringOrganization": organisation,
        "jobLocation": {"@type": "Place", "address": address},
        "occupationalCategory": position.occupation_code,
        "jobStartDate": position.start_date.isoformat(),
        "totalJobOpenings": position.free,
        "directApply": False,
    }
    requirement = EDUCATION.get(position.school_certificate)
    if requirement:
        posting["educationRequirements"] = {
            "@type": "EducationalOccupationalCredential",
            "credentialCategory": requirement,
        }
    else:
        posting["experienceRequirements"] = "no requirements"
    return posting


def job_posting_json(position: Position, company: Company, data: SiteData, description: str) -> str:
    """The JSON-LD, safe inside <script>: no `</` can end the element early."""
    text = json.dumps(job_posting(position, company, data, description), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
