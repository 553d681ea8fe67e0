"""PDF timetables with fpdf2: one A4 page (or more) per company or applicant.

fpdf2 is pure Python (with Pillow and fontTools, which diko already uses), so it installs
in the slim image without system libraries, unlike HTML-to-PDF renderers that need
Pango or a browser; it embeds the network's typeface Lato (diko_shared.brand), so a
timetable prints the same everywhere, names with ł or ş included. The layout follows
the HTML timetables: a band in the brand's night blue, the name, the day and the
place, then a table whose header row repeats on every page.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.fonts import FontFace

from diko_matching.fairs import views
from diko_shared.brand import FONT_FILES, Weight, hex_colour
from diko_shared.contract.matching import Fair


def _rgb(name: str) -> tuple[int, int, int]:
    """A brand colour as fpdf2 takes it."""
    value = hex_colour(name).lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


BAND = _rgb("nachtblau")  # the band, as on the HTML timetables
INK = _rgb("tinte")
MUTED = _rgb("schiefer")
HEADER = _rgb("himmel")
FREE = _rgb("schiefer")
WHITE = _rgb("weiss")
RULE = _rgb("nebel")


class _Document(FPDF):
    """A4 portrait, Lato, the fair's title in the band and page numbers in the footer."""

    def __init__(self, fair: Fair, kind: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.fair = fair
        self.kind = kind
        self.add_font("Lato", "", FONT_FILES[Weight.REGULAR])
        self.add_font("Lato", "B", FONT_FILES[Weight.BOLD])
        self.set_margins(16, 14, 16)
        self.set_auto_page_break(auto=True, margin=16)
        self.set_title(f"{fair.title}: {kind}")
        self.set_author("DIKO Altmark")
        self.set_creator("diko matching")
        self.set_lang("de-DE")

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font("Lato", "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"DIKO Altmark · {self.fair.title} · Seite {self.page_no()}", align="C")

    def band(self, right: str) -> None:
        self.set_fill_color(*BAND)
        self.set_text_color(*WHITE)
        self.set_font("Lato", "B", 10.5)
        width = self.w - self.l_margin - self.r_margin
        self.cell(width / 2, 9, f"  DIKO Altmark · {self.fair.title}", fill=True)
        self.set_font("Lato", "", 10.5)
        self.cell(width / 2, 9, f"{right}  ", fill=True, align="R", new_x="LMARGIN", new_y="NEXT")
        self.ln(5)

    def heading(self, text: str) -> None:
        self.set_text_color(*INK)
        self.set_font("Lato", "B", 18)
        self.multi_cell(0, 8, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def line_of(self, text: str, *, muted: bool = True, size: float = 10.5) -> None:
        self.set_text_color(*(MUTED if muted else INK))
        self.set_font("Lato", "", size)
        self.multi_cell(0, 5.5, text, align="L", new_x="LMARGIN", new_y="NEXT")

    def day(self) -> None:
        self.line_of(views.day_line(self.fair))
        venue = views.venue_line(self.fair)
        if venue:
            self.line_of(venue)

    def note(self, text: str) -> None:
        self.ln(4)
        self.set_fill_color(*HEADER)
        self.set_text_color(*INK)
        self.set_font("Lato", "", 10.5)
        self.multi_cell(
            0, 5.5, text, fill=True, align="L", padding=(2.5, 3), new_x="LMARGIN", new_y="NEXT"
        )


def _table(
    pdf: _Document, widths: list[float], head: list[str], rows: list[list[tuple[str, bool]]]
) -> None:
    pdf.ln(3)
    pdf.set_font("Lato", "", 10)
    pdf.set_text_color(*INK)
    pdf.set_fill_color(*WHITE)  # the band's colour would otherwise fill the rows
    pdf.set_draw_color(*RULE)
    with pdf.table(
        cell_fill_mode="NONE",
        col_widths=widths,
        text_align="LEFT",
        align="LEFT",
        line_height=6,
        padding=(1.2, 2),
        headings_style=FontFace(family="Lato", emphasis="BOLD", fill_color=HEADER, color=INK),
        borders_layout="HORIZONTAL_LINES",
        repeat_headings=1,
        width=pdf.w - pdf.l_margin - pdf.r_margin,
    ) as table:
        table.row(head)
        for cells in rows:
            row = table.row()
            for text, free in cells:
                row.cell(text, style=FontFace(color=FREE) if free else None)


def companies_pdf(fair: Fair, only: str | None = None) -> bytes:
    """Every company's timetable (or the one whose ref is `only`) as a PDF."""
    pdf = _Document(fair, "Zeitpläne der Unternehmen")
    for t in views.company_timetables(fair):
        if only not in (None, t.ref):
            continue
        pdf.add_page()
        pdf.band("Zeitplan des Unternehmens")
        pdf.heading(t.name)
        if t.occupations:
            pdf.line_of(f"Ausbildung: {', '.join(t.occupations)}", muted=False)
        pdf.day()
        talks = "Gespräch" if t.interviews == 1 else "Gespräche"
        tables = "Tisch" if t.tables == 1 else "Tischen"
        pdf.line_of(f"{t.interviews} {talks} an {t.tables} {tables}")
        head = ["Uhrzeit", *(f"Tisch {n}" for n in range(1, t.tables + 1))]
        rest = max(1, t.tables)
        widths = [26, *([(174 - 26) / rest] * rest)]
        rows = [[(r.time, False), *((c.text, c.free) for c in r.cells)] for r in t.rounds]
        _table(pdf, widths, head, rows)
    return bytes(pdf.output())


def applicants_pdf(fair: Fair, only: str | None = None) -> bytes:
    """Every applicant's timetable (or the one whose ref is `only`) as a PDF."""
    pdf = _Document(fair, "Zeitpläne der Bewerberinnen und Bewerber")
    for t in views.applicant_timetables(fair):
        if only not in (None, t.ref):
            continue
        pdf.add_page()
        pdf.band("Dein Zeitplan")
        pdf.heading(f"Zeitplan für {t.name}")
        pdf.day()
        if t.appointments:
            talks = "Gespräch" if len(t.appointments) == 1 else "Gespräche"
            pdf.ln(2)
            pdf.line_of(
                f"{len(t.appointments)} {talks} mit Unternehmen, die du dir gewünscht hast. "
                "Sei am besten ein paar Minuten vorher am Tisch.",
                muted=False,
            )
            rows = [
                [
                    (a.time, False),
                    (a.company + (f"\n{', '.join(a.occupations)}" if a.occupations else ""), False),
                    (str(a.table), False),
                ]
                for a in t.appointments
            ]
            _table(pdf, [28, 126, 20], ["Uhrzeit", "Unternehmen", "Tisch"], rows)
        else:
            pdf.note(
                "Für dich ist diesmal kein festes Gespräch eingeplant. Komm trotzdem "
                "vorbei: An den Ständen ist zwischen den Gesprächen oft Zeit für dich."
            )
        if t.without:
            pdf.note(
                f"Ohne festen Termin: {', '.join(t.without)}. Frag dort am Stand nach, "
                "ob zwischendurch ein Gespräch möglich ist."
            )
    return bytes(pdf.output())
