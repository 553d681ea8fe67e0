"""The export document as JSON (Art. 20) and as a German summary a person can read (Art. 15).

The summary lists, per service, each collection with why it is kept and every record as
a table of its fields; German labels for the fields people recognise, the stored name
for the rest. It loads nothing but the service's own `/brand/brand.css`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from diko_shared import german, text
from diko_shared.contract.rights import SERVICES
from diko_shared.rights.holdings import as_json

BERLIN = ZoneInfo("Europe/Berlin")
SERVICE_NAMES = {
    "companies": "Betriebe und Ausbildungsstellen",
    "matching": "Vermittlung",
    "notifications": "Benachrichtigungen",
    "media": "Podcast, Posts und Website",
}
KIND_NAMES = {"applicant": "Bewerber/in", "contact": "Ansprechperson", "staff": "Mitarbeiter/in"}
LABELS = {
    "_id": "Kennung",
    "first_name": "Vorname",
    "last_name": "Nachname",
    "name": "Name",
    "email": "E-Mail",
    "phone": "Telefon",
    "home_town": "Wohnort",
    "reach_km": "Erreichbar (km)",
    "driving_licence": "Führerschein",
    "school_certificate": "Schulabschluss",
    "desired_occupations": "Wunschberufe",
    "earliest_start": "Frühester Beginn",
    "status": "Stand",
    "registered_at": "Angemeldet am",
    "updated_at": "Geändert am",
    "applicant_id": "Bewerber-Kennung",
    "position_id": "Stellen-Kennung",
    "proposal_id": "Vorschlags-Kennung",
    "company_id": "Betriebs-Kennung",
    "company_name": "Betrieb",
    "occupation": "Beruf",
    "town": "Ort",
    "score": "Punktzahl",
    "reasons": "Gründe",
    "taken_at": "Besetzt am",
    "decided_at": "Entschieden am",
    "decided_by": "Entschieden von",
    "role": "Rolle",
    "number": "Nummer",
    "message_key": "Nachricht, die es veranlasste",
    "key": "Nachricht, die es veranlasste",
    "trigger": "Anlass",
    "cause": "Grund",
    "day": "Tag",
    "proposed_at": "Vorgeschlagen am",
    "at": "Zeitpunkt",
    "proposal": "Vorschlag",
    "position": "Stelle",
    "applicant": "Bewerber/in",
    "rank": "Rang",
    "criterion": "Kriterium",
    "text": "Text",
    "weight": "Gewicht",
    "changes": "Änderungen",
    "recipients": "Empfänger",
    "subject": "Betreff",
    "created_at": "Angelegt am",
    "sent_at": "Gesendet am",
}

_templates = Environment(
    loader=PackageLoader("diko_shared.rights", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    finalize=text.finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)


def export_json(document: Mapping[str, Any]) -> dict[str, Any]:
    """The export as one JSON document: who, when, and each service's part by collection."""
    parts = document.get("parts", {})
    return as_json(
        {
            "export_id": document["_id"],
            "person": document["person"],
            "requested_at": document["requested_at"],
            "expires_at": document["expires_at"],
            "complete": all(s in parts for s in SERVICES),
            "outstanding": [s for s in SERVICES if s not in parts],
            "services": {s: parts[s] for s in SERVICES if s in parts},
        }
    )


def _rows(record: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in record.items():
        label = LABELS.get(key, key) if not prefix else f"{prefix} › {LABELS.get(key, key)}"
        if isinstance(value, Mapping):
            rows += _rows(value, label)
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for n, item in enumerate(value, 1):
                rows += _rows(item, f"{label} {n}")
        elif isinstance(value, list):
            rows.append((label, ", ".join(str(v) for v in value) or "–"))
        elif isinstance(value, bool):
            rows.append((label, "ja" if value else "nein"))
        else:
            rows.append((label, "–" if value is None or value == "" else _when(str(value))))
    return rows


def _when(value: str) -> str:
    """An ISO time as Germans read it; anything else unchanged."""
    if len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        local = moment.astimezone(BERLIN)
        return f"{german.long_date(local.date(), space=german.NBSP)}, {local:%H:%M}\u00a0Uhr"
    return value


def export_html(document: Mapping[str, Any]) -> str:
    data = export_json(document)
    services = []
    for service, part in data["services"].items():
        collections = [
            {
                "name": c["collection"],
                "purpose": c.get("purpose", ""),
                "records": [_rows(r) for r in c["records"]],
            }
            for c in part["collections"]
        ]
        services.append(
            {
                "name": service,
                "title": SERVICE_NAMES[service],
                "at": _when(part["at"]),
                "collections": collections,
                "elsewhere": part.get("elsewhere", []),
            }
        )
    return _templates.get_template("export.html.j2").render(
        export=data,
        kind=KIND_NAMES[data["person"]["kind"]],
        requested_at=_when(data["requested_at"]),
        expires_at=_when(data["expires_at"]),
        services=services,
        outstanding=listed([SERVICE_NAMES[s] for s in data["outstanding"]]),
    )


def listed(names: list[str]) -> str:
    """„A“, „B“ und „C“: the names themselves may hold commas and "und"."""
    quoted = [f"„{name}“" for name in names]
    if len(quoted) < 2:
        return "".join(quoted)
    return f"{', '.join(quoted[:-1])} und {quoted[-1]}"


def gone_html() -> str:
    return _templates.get_template("gone.html.j2").render()
