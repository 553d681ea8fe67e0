"""The record of processing activities (Verzeichnis von Verarbeitungstätigkeiten, Art. 30
GDPR), generated from what the code says, so that it stays true.

Per service it lists:

- which personal data it keeps, about whom, why and how it is erased: the service's
  `rights.HOLDINGS` (each `Holding` names its collection, the kinds of person, the
  purpose and what an erasure keeps);
- how long: the retention settings of the service (`*_retention_days`, `*_ttl_days`),
  with their defaults and descriptions from the settings classes, and each holding's own
  note (`Holding.retention`);
- who receives it: the events the service emits whose payload carries personal data (the
  fields found in the contract models, `personal_fields`), why their readers need it (the
  model's `personal_data_purpose`, which every such event must state) and the services
  that subscribe to them (the catalogue's reactions).

`diko contract processing` writes docs/processing.md; a test checks it is current. The
generator imports the four services' `rights` and settings modules (they are installed
in the same environment); the contract itself stays free of them.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from diko_shared.contract.catalogue import CATALOGUE, Catalogue
from diko_shared.rights.holdings import DELETE, KEEP, SCRUB, Holding, Rewrite

SERVICES = ("companies", "matching", "notifications", "media")
#: Where each service's settings class is: its retention settings are read from there.
SETTINGS = {
    "companies": "diko_companies.app:CompaniesSettings",
    "matching": "diko_matching.app:MatchingSettings",
    "notifications": "diko_notifications.settings:NotificationsSettings",
    "media": "diko_media.settings:MediaSettings",
}
#: Fields that are personal data wherever they stand.
ALWAYS = frozenset({"first_name", "last_name", "email", "phone", "home_town"})
#: Fields that are a person's only in a model of a person (a venue's street is not).
OF_A_PERSON = frozenset({"name", "street"})
#: Fields that name who did something (a name or an e-mail address of staff or a contact).
ACTORS = frozenset(
    {"decided_by", "approved_by", "rejected_by", "declared_by", "recorded_by", "changed_by"}
)
#: A model of a person: its name says so, or it has an address or a phone number.
PERSON_MODELS = ("Applicant", "Contact", "Person", "Staff", "Guest")
KINDS = {"applicant": "Bewerber/innen", "contact": "Ansprechpersonen", "staff": "Mitarbeiter/innen"}
UNTIL_ERASED = "bis zur Löschung der Person"


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation refers to (through lists, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _models_in(argument)


def _names_a_person(model: type[BaseModel]) -> bool:
    fields = set(model.model_fields)
    return any(word in model.__name__ for word in PERSON_MODELS) or bool(
        fields & {"email", "phone", "first_name"}
    )


def personal_fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    """The paths of the fields of `model` that carry personal data (`proposals.applicant.name`)."""
    found: list[str] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        if name in ALWAYS | ACTORS or (name in OF_A_PERSON and _names_a_person(model)):
            found.append(path)
        for inner in _models_in(field.annotation):
            if inner is not model:
                found += personal_fields(inner, f"{path}.")
    return found


@dataclass(frozen=True)
class Recipient:
    """An event that carries personal data, its fields and who receives it."""

    type: str
    fields: list[str]
    readers: list[str]
    #: Why the event carries them (the model's `personal_data_purpose`), in German.
    purpose: str = ""


def recipients(service: str, catalogue: Catalogue = CATALOGUE) -> list[Recipient]:
    """The events `service` emits with personal data in them, and their subscribers."""
    found = []
    for spec in catalogue:
        if spec.owner != service or spec.kind != "event":
            continue
        fields = personal_fields(spec.payload)
        if fields:
            readers = [s for s in SERVICES if spec.type in catalogue.reactions(s)]
            purpose = getattr(spec.payload, "personal_data_purpose", "")
            found.append(Recipient(spec.type, fields, readers, purpose))
    return sorted(found, key=lambda r: r.type)


def _erasure(holding: Holding) -> str:
    if holding.erase == DELETE:
        return "gelöscht"
    if holding.erase == KEEP:
        return f"bleibt: {holding.kept}"
    if holding.erase == SCRUB or isinstance(holding.erase, Rewrite):
        return f"ohne die Person: {holding.kept}" if holding.kept else "ohne die Person"
    return f"anonymisiert: {holding.kept}" if holding.kept else "anonymisiert"


def _settings(service: str) -> list[tuple[str, Any, str]]:
    """(variable, default, description) of the service's retention settings."""
    module, name = SETTINGS[service].split(":")
    settings = getattr(importlib.import_module(module), name)
    found = []
    for field_name, field in sorted(settings.model_fields.items()):
        if field_name.endswith(("_retention_days", "_ttl_days")):
            default = field.default
            shown = int(default) if float(default).is_integer() else default
            found.append((f"DIKO_{field_name.upper()}", shown, field.description or ""))
    return found


def _holdings(service: str) -> Sequence[Holding]:
    rights = importlib.import_module(f"diko_{service}.rights")
    return tuple(rights.RIGHTS.holdings)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(catalogue: Catalogue = CATALOGUE) -> str:
    """The whole record as Markdown (German: it is written for the supervisory authority)."""
    lines = [
        "# Verzeichnis von Verarbeitungstätigkeiten",
        "",
        "<!-- generated by `diko contract processing` from the services' rights modules, "
        "their settings and the contract's models; do not edit by hand -->",
        "",
        "Art. 30 DSGVO. Für jeden Dienst: welche personenbezogenen Daten er über wen "
        "speichert, wozu, wie lange und an wen er sie weitergibt. Erzeugt aus dem Code "
        "(`diko_shared.rights.record`): was ein Dienst speichert, steht in seinem `rights.py`; "
        "die Fristen in seinen Einstellungen; wer Daten empfängt, im Vertrag (welche "
        "Ereignisse personenbezogene Felder tragen und wer sie abonniert). Auskunft, "
        "Löschung und Fristen beschreibt [docs/rights.md](rights.md).",
        "",
        "Verantwortlich ist der Träger des Netzwerks DIKO Altmark; alle vier Dienste laufen "
        "in seinem Betrieb, es gibt keine Auftragsverarbeiter außer dem Mailserver (für "
        "E-Mails) und Instagram (für freigegebene Posts, ohne Daten von Bewerber/innen). "
        "Die Plattform hält außerdem kurz Kopien: Nachrichten im Postausgang bis zur "
        "Zustellung, die ausgehenden Nachrichten einer verarbeiteten Nachricht einen Tag "
        "lang (für eine erneute Zustellung nach einem Absturz), gespeicherte Antworten auf "
        "Anfragen bis `DIKO_INBOX_RETENTION_DAYS` (Standard 30 Tage), geplante Aufgaben bis "
        "zu ihrer Ausführung. Eine Auskunft "
        "(Export) hält der Dienst, dem die Person gehört, sieben Tage für ihren Link bereit.",
        "",
    ]
    for service in SERVICES:
        lines += [f"## {service}", "", "### Gespeicherte Daten", ""]
        lines += [
            "| Sammlung | über | Zweck | Frist | bei Löschung der Person |",
            "| --- | --- | --- | --- | --- |",
        ]
        for holding in _holdings(service):
            kinds = ", ".join(KINDS[k] for k in holding.kinds) or "niemanden"
            cells = (
                f"`{holding.collection}`",
                kinds,
                holding.purpose,
                holding.retention or UNTIL_ERASED,
                _erasure(holding),
            )
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines += ["", "### Fristen (Einstellungen)", ""]
        settings = _settings(service)
        if settings:
            lines += [
                "| Einstellung | Standard (Tage) | Beschreibung der Einstellung |",
                "| --- | --- | --- |",
            ]
            lines += [f"| `{v}` | {d} | {_cell(t)} |" for v, d, t in settings]
        else:
            lines.append("Keine eigenen; es gelten die Fristen der Plattform.")
        lines += ["", "### Empfänger (Ereignisse mit personenbezogenen Feldern)", ""]
        sent = recipients(service, catalogue)
        if sent:
            lines += ["| Ereignis | Felder | wozu | Empfänger |", "| --- | --- | --- | --- |"]
            for r in sent:
                fields = ", ".join(f"`{f}`" for f in r.fields)
                readers = ", ".join(r.readers) or "niemand (nur Protokoll und Betrieb)"
                lines.append(f"| `{r.type}` | {fields} | {_cell(r.purpose)} | {readers} |")
        else:
            lines.append("Keine: seine Ereignisse tragen nur Kennungen und Sachdaten.")
        lines.append("")
    return "\n".join(lines)
