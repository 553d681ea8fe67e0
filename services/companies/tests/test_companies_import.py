"""`diko companies import` with messy, real-world-shaped spreadsheets, through the running service.

The CSV mixes UTF-8 and Windows-1252 lines (rows pasted from another export), has empty
lines, a repeated company, a bad postcode, an unknown town, a missing name, a website
without scheme and an Instagram URL; the workbook has numbers where text belongs. Every
line must be in the report, and a second run must create nothing.

The module runs on a stack of its own: in the session's, another module's "Tischlerei
Müller" with a random tag in the same postcode was once similar enough (82 %) for the
import to report a suspected duplicate.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook

from diko_shared.contract.companies import GetCompany, SearchCompanies
from harness.bus import Bus
from harness.cli import diko
from harness.fixtures import own_stack
from harness.processes import ServiceProcess
from harness.stack import SessionStack

stack, bus, mailpit, mongo = own_stack("module")


@pytest.fixture(scope="module")
def companies(stack: SessionStack) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "companies-import", "diko_companies", None, stack.service_env("companies")
    )
    process.start()
    yield process
    process.stop()


def tag() -> str:
    return "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:6])


def report(path: Path) -> list[dict[str, str]]:
    with path.with_name(f"{path.stem}.bericht.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def messy_csv(directory: Path, t: str) -> Path:
    phone = f"03931 {uuid.uuid4().int % 10**7:07d}"  # no other test's company has it
    # a house number of its own: other tests' Tischlerei Müller sits in Breite Straße 12
    street = f"Breite Straße {100 + uuid.uuid4().int % 900}"
    header = "Firma;Straße;PLZ;Ort;Branche;Ansprechpartner;E-Mail;Telefon;Website;Instagram;Notiz\n"
    utf8 = [
        f"Tischlerei Müller {t} GmbH;{street};39576;Stendal;Handwerk;Jana Müller;"
        f"jana@mueller-{t}.example;{phone};mueller-{t}.example;@mueller_{t};Stammkunde\n",
        ";;;;;;;;;;\n",
        f"Autohaus Krüger {t};Hallstraße 4;395 76;Stendal;Kfz;;;03931 555;;;\n",
        f"Friseur Falsch {t};Weg 1;3957;Stendal;;;;;;;PLZ falsch\n",
        f"Gasthof Nirgendwo {t};Dorfstraße 1;39576;Atlantis;Gastronomie;;;;;;\n",
        ";Ohne Namen 1;39576;Stendal;;;;;;;\n",
        "\n",
        f'"Schlosserei ""Eisen"" {t}";Am Hafen 2;39590;Tangermünde;Handwerk;Uwe Krause;'
        f"uwe@eisen-{t}.example;;https://www.instagram.com/eisen_{t}/;;\n",
        f"TISCHLEREI MUELLER {t};{street};39576;Stendal;;Tom Becker;"
        f"tom@mueller-{t}.example;;;;doppelt\n",
    ]
    cp1252 = (
        f"Bäckerei Schön {t};Marktstraße 3;39606;Osterburg;Lebensmittel;Grit Schön;;"
        "03937 22334;;;\n"
    ).encode("cp1252")
    path = directory / f"firmen-{t}.csv"
    path.write_bytes(
        header.encode("utf-8") + "".join(utf8[:3]).encode() + cp1252 + "".join(utf8[3:]).encode()
    )
    return path


async def test_a_messy_csv_is_imported_row_by_row_and_every_line_is_accounted_for(
    bus: Bus, stack: SessionStack, companies: ServiceProcess, tmp_path: Path
) -> None:
    t = tag()
    path = messy_csv(tmp_path, t)

    result = diko(stack, "companies", "import", str(path), timeout=120)

    assert result.returncode == 0, result.stderr + result.stdout
    rows = {int(r["Zeile"]): r for r in report(path)}
    assert sorted(rows) == list(range(2, 12))  # every line after the header
    outcome = {line: r["Ergebnis"] for line, r in rows.items()}
    assert outcome[2] == "angelegt"
    assert outcome[3] == outcome[9] == "leer"
    assert outcome[4] == "angelegt"  # "395 76": the space goes
    assert outcome[5] == "angelegt"
    assert rows[5]["Zeichensatz"] == "Windows-1252"
    assert rows[5]["Firma"] == f"Bäckerei Schön {t}"
    assert (outcome[6], rows[6]["Hinweis"]) == ("abgelehnt", "PLZ: ungültiger Wert '3957'")
    assert outcome[7] == "abgelehnt"
    assert "Ort" in rows[7]["Hinweis"]
    assert "Atlantis" in rows[7]["Hinweis"]
    assert (outcome[8], rows[8]["Hinweis"]) == ("abgelehnt", "Firma fehlt")
    assert outcome[10] == "angelegt"
    assert rows[10]["Firma"] == f'Schlosserei "Eisen" {t}'
    assert outcome[11] == "aktualisiert"  # the same company again: its second contact added
    assert rows[11]["Firmen-ID"] == rows[2]["Firmen-ID"]
    assert "gleiche Firma wie Zeile 2" in rows[11]["Hinweis"]
    assert "Notiz" in result.stdout  # the column nothing reads is named
    assert "Bericht:" in result.stdout

    company = await bus.ok(GetCompany(company_id=rows[2]["Firmen-ID"]))
    assert company["website"] == f"https://mueller-{t}.example"
    assert company["instagram"] == f"mueller_{t}"
    assert {c["name"] for c in company["contacts"]} == {"Jana Müller", "Tom Becker"}
    baker = await bus.ok(GetCompany(company_id=rows[5]["Firmen-ID"]))
    assert baker["address"]["town"] == "Osterburg (Altmark)"

    again = diko(stack, "companies", "import", str(path), timeout=120)

    assert again.returncode == 0, again.stderr + again.stdout
    second = {int(r["Zeile"]): r["Ergebnis"] for r in report(path)}
    assert {second[line] for line in (2, 4, 5, 10, 11)} == {"unverändert"}
    found = await bus.ok(SearchCompanies(text=t, limit=100))
    assert sorted(c["name"] for c in found["companies"]) == sorted(
        r["Firma"] for line, r in rows.items() if line in (2, 4, 5, 10)
    )  # four companies: line 11 is line 2 again


async def test_a_workbook_with_numbers_and_a_near_duplicate_is_imported(
    bus: Bus, stack: SessionStack, companies: ServiceProcess, tmp_path: Path
) -> None:
    t = tag()
    book = Workbook()
    sheet = book.active
    sheet.append(["Firmenname", "Strasse", "PLZ", "Ort", "E-Mail"])
    sheet.append(
        [f"Elektro Weber {t}", "Lindenweg 5", 39638, "Gardelegen", f"info@weber-{t}.example"]
    )
    sheet.append([None, None, None, None, None])
    sheet.append([f"Weber Elektro {t} GmbH", "Lindenweg 5", 39638, "Gardelegen", None])
    path = tmp_path / f"liste-{t}.xlsx"
    book.save(path)

    result = diko(stack, "companies", "import", str(path), timeout=120)

    assert result.returncode == 0, result.stderr + result.stdout
    rows = {int(r["Zeile"]): r for r in report(path)}
    assert rows[3]["Ergebnis"] == "leer"
    # Sent at the same time, the later of the two sees the earlier (or each the other).
    flagged = [n for n in (2, 4) if rows[n]["Ergebnis"] == "angelegt, Dublette vermutet"]
    assert flagged
    assert {rows[n]["Ergebnis"] for n in (2, 4)} <= {"angelegt", "angelegt, Dublette vermutet"}
    for n in flagged:
        other = rows[6 - n]
        assert other["Firmen-ID"] in rows[n]["Hinweis"]
        assert "gleiche Postleitzahl 39638" in rows[n]["Hinweis"]


def test_a_dry_run_sends_nothing_and_a_file_without_a_name_column_is_refused(
    stack: SessionStack, tmp_path: Path
) -> None:
    path = tmp_path / "ohne.csv"
    path.write_text("Straße;PLZ;Ort\nMarkt 1;39576;Stendal\n", encoding="utf-8")
    result = diko(stack, "companies", "import", str(path))
    assert result.returncode == 2
    assert "Firmennamen" in result.stderr
    t = tag()
    good = tmp_path / "gut.csv"
    good.write_text(f"Firma;Straße;PLZ;Ort\nProbe {t};Markt 1;39576;Stendal\n", encoding="utf-8")
    dry = diko(stack, "companies", "import", str(good), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert [r["Ergebnis"] for r in report(good)] == ["gültig (Probelauf)"]
