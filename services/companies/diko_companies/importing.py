"""Reading the network's company spreadsheets (no broker): CSV or XLSX rows to registrations.

Lists come as semicolon CSV in UTF-8 or Windows-1252 (often both in one file, after
someone pasted rows from another export) or as Excel workbooks. Every line of the
input becomes exactly one report row: a registration to send, an empty line, or a
rejection with its reason in German. Nothing is dropped in silence.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from diko_companies.domain import duplicate_key
from diko_companies.duplicates import fold
from diko_shared.contract.companies import RegisterCompany

#: The payload fields a column can fill.
TARGETS = (
    "name",
    "street",
    "postcode",
    "town",
    "industry",
    "contact_name",
    "email",
    "phone",
    "website",
    "instagram",
    "role",
)

#: German headers (folded) and the field each fills; `--map Spalte=feld` adds or overrides.
DEFAULT_HEADERS = {
    "firma": "name",
    "firmenname": "name",
    "unternehmen": "name",
    "name": "name",
    "strasse": "street",
    "str": "street",
    "anschrift": "street",
    "adresse": "street",
    "plz": "postcode",
    "postleitzahl": "postcode",
    "ort": "town",
    "stadt": "town",
    "gemeinde": "town",
    "branche": "industry",
    "ansprechpartner": "contact_name",
    "ansprechpartnerin": "contact_name",
    "ansprechpartner in": "contact_name",
    "ansprechperson": "contact_name",
    "kontakt": "contact_name",
    "funktion": "role",
    "position": "role",
    "e mail": "email",
    "email": "email",
    "mail": "email",
    "telefon": "phone",
    "tel": "phone",
    "telefonnummer": "phone",
    "website": "website",
    "webseite": "website",
    "homepage": "website",
    "internet": "website",
    "instagram": "instagram",
}

#: How the report names the fields of a registration.
FIELD_NAMES = {
    "data.name": "Firma",
    "data.address.street": "Straße",
    "data.address.postcode": "PLZ",
    "data.address.town": "Ort",
    "data.address": "Anschrift",
    "data.industry": "Branche",
    "data.contact.name": "Ansprechpartner",
    "data.contact.email": "E-Mail",
    "data.contact.phone": "Telefon",
    "data.contact": "Ansprechpartner",
    "data.phone": "Telefon",
    "data.website": "Website",
    "data.instagram": "Instagram",
}


class ImportFileError(Exception):
    """The file cannot be read as a table at all (German message for the operator)."""


@dataclass
class Row:
    """One line of the input and what became of it."""

    line: int
    cells: dict[str, str]
    encoding: str = "UTF-8"
    registration: RegisterCompany | None = None
    key: str | None = None
    outcome: str = ""
    company_id: str = ""
    note: str = ""

    @property
    def name(self) -> str:
        return self.cells.get("name", "")


@dataclass
class Table:
    headers: list[str]
    mapping: dict[str, str]  # header -> target field
    ignored: list[str]
    rows: list[Row] = field(default_factory=list)


# -- reading -----------------------------------------------------------------------------------


def decode_lines(raw: bytes) -> list[tuple[str, str]]:
    """Each line decoded on its own: UTF-8 where it is valid, else Windows-1252."""
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    lines = []
    for chunk in raw.split(b"\n"):
        chunk = chunk.removesuffix(b"\r")
        try:
            lines.append((chunk.decode("utf-8"), "UTF-8"))
        except UnicodeDecodeError:
            lines.append((chunk.decode("cp1252", errors="replace"), "Windows-1252"))
    if lines and lines[-1][0] == "":
        lines.pop()
    return lines


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str], str]]]:
    lines = decode_lines(path.read_bytes())
    if not lines:
        raise ImportFileError(f"{path.name} ist leer")
    header_line = lines[0][0]
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    if header_line.count("\t") > max(header_line.count(";"), header_line.count(",")):
        delimiter = "\t"
    records: list[tuple[int, list[str], str]] = []
    reader = csv.reader(io.StringIO("\n".join(text for text, _ in lines)), delimiter=delimiter)
    headers: list[str] | None = None
    previous_end = 0
    for cells in reader:
        start, previous_end = previous_end + 1, reader.line_num
        encoding = (
            "Windows-1252"
            if any(lines[i - 1][1] != "UTF-8" for i in range(start, previous_end + 1))
            else "UTF-8"
        )
        if headers is None:
            headers = cells
            continue
        records.append((start, cells, encoding))
    return headers or [], records


def read_xlsx(path: Path) -> tuple[list[str], list[tuple[int, list[str], str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError(f"{path.name} ist keine lesbare Excel-Datei: {exc}") from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    headers = [_cell(v) for v in next(rows, ())]
    records = [(n, [_cell(v) for v in values], "XLSX") for n, values in enumerate(rows, start=2)]
    book.close()
    return headers, records


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def mapping_for(headers: list[str], overrides: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Which field each header fills, and the headers nothing reads."""
    by_folded = {fold(k): v for k, v in overrides.items()}
    mapping: dict[str, str] = {}
    ignored = []
    for header in headers:
        folded = fold(header)
        target = by_folded.get(folded) or DEFAULT_HEADERS.get(folded)
        if target and target not in mapping.values():
            mapping[header] = target
        elif header.strip():
            ignored.append(header)
    if "name" not in mapping.values():
        raise ImportFileError(
            "keine Spalte für den Firmennamen gefunden (erwartet: Firma); "
            f"Spalten: {', '.join(headers)}; mit --map 'Spalte=name' zuordnen"
        )
    return mapping, ignored


def read_table(path: Path, overrides: dict[str, str] | None = None) -> Table:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        headers, records = read_xlsx(path)
    elif suffix in (".csv", ".txt"):
        headers, records = read_csv(path)
    else:
        raise ImportFileError(f"{path.name}: erwartet wird eine .csv- oder .xlsx-Datei")
    mapping, ignored = mapping_for(headers, overrides or {})
    table = Table(headers, mapping, ignored)
    for line, cells, encoding in records:
        values = {
            target: (cells[i].strip() if i < len(cells) else "")
            for i, header in enumerate(headers)
            if (target := mapping.get(header))
        }
        table.rows.append(Row(line, values, encoding))
    return table


# -- rows to registrations ---------------------------------------------------------------------


def prepare(rows: Iterable[Row]) -> None:
    """Turn each row into a registration, or mark it empty or rejected (with the reason)."""
    for row in rows:
        if not any(row.cells.values()):
            row.outcome, row.note = "leer", "leere Zeile"
            continue
        data, problems = _payload(row.cells)
        if problems:
            row.outcome, row.note = "abgelehnt", "; ".join(problems)
            continue
        try:
            row.registration = RegisterCompany.model_validate(data, strict=False)
        except ValidationError as exc:
            row.outcome, row.note = "abgelehnt", reasons(exc)
            continue
        row.key = duplicate_key(row.registration.name, row.registration.address.postcode)


def _payload(cells: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    get = cells.get
    problems = [
        f"{label} fehlt"
        for key, label in (
            ("name", "Firma"),
            ("street", "Straße"),
            ("postcode", "PLZ"),
            ("town", "Ort"),
        )
        if not get(key)
    ]
    data: dict[str, Any] = {
        "name": get("name", ""),
        "address": {
            "street": get("street", ""),
            "postcode": re.sub(r"\s", "", get("postcode", "")),
            "town": get("town", ""),
        },
        "industry": get("industry") or None,
        "website": _website(get("website")),
        "instagram": _instagram(get("instagram")),
        "if_exists": "update",
    }
    if get("contact_name") or get("email"):
        data["contact"] = {
            "name": get("contact_name") or get("email", ""),
            "email": get("email") or None,
            "phone": get("phone") or None,
            "role": get("role") or None,
        }
    elif get("phone"):
        data["phone"] = get("phone")
    return data, problems


def _website(value: str | None) -> str | None:
    if not value:
        return None
    return value if re.match(r"^https?://", value, re.I) else f"https://{value}"


def _instagram(value: str | None) -> str | None:
    if not value:
        return None
    handle = value.strip().removeprefix("@")
    match = re.search(r"instagram\.com/([A-Za-z0-9._]+)", handle)
    return match.group(1) if match else handle


def reasons(exc: ValidationError) -> str:
    """A validation error as the report says it: German field names, one problem each."""
    texts = []
    for error in exc.errors(include_url=False):
        where = "data." + ".".join(str(p) for p in error["loc"])
        label = FIELD_NAMES.get(where, where.removeprefix("data."))
        texts.append(f"{label}: {_german(error)}")
    return "; ".join(texts)


def _german(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "string_pattern_mismatch":
        return f"ungültiger Wert {error.get('input')!r}"
    if kind in ("string_too_short", "missing"):
        return "fehlt"
    if kind == "string_too_long":
        return "zu lang"
    return str(error["msg"])


def reply_note(reply: dict[str, Any]) -> str:
    """The German reason of an error reply, its field names as the spreadsheet's."""
    error = reply.get("error") or {}
    details = error.get("details") or []
    if details:
        return "; ".join(
            f"{FIELD_NAMES.get(d['field'], d['field'].removeprefix('data.'))}: {d['problem']}"
            for d in details
        )
    return str(error.get("message", "unbekannter Fehler"))


REPORT_COLUMNS = ["Zeile", "Firma", "Ergebnis", "Firmen-ID", "Hinweis", "Zeichensatz"]


def report_path(source: Path) -> Path:
    return source.with_name(f"{source.stem}.bericht.csv")


def write_report(path: Path, rows: list[Row]) -> None:
    """Semicolon CSV in UTF-8 with BOM, as Excel in Germany opens it."""
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(REPORT_COLUMNS)
        for row in rows:
            writer.writerow(
                [row.line, row.name, row.outcome, row.company_id, row.note, row.encoding]
            )
