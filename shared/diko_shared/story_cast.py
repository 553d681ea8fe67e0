"""Who and what the demo's story is about: a real-looking company, its positions, applicants
and podcast episodes, the same on every machine and different on every run.

The story is played again and again against the same database (`diko demo` after
`diko demo`), so nothing here is decorated with random suffixes: the company is
registered once and found again by later runs (its duplicate guard names it); run `n`
of the company (its `n`-th position) opens the `n`-th position of `POSITIONS` (a new start
year each time the list comes round), brings the `n`-th applicant of a cast of a hundred
and forty-four names from towns around Stendal, and publishes episode `n` of the podcast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from diko_shared.contract.common import Occupation
from diko_shared.contract.companies import Address, Contact, RegisterCompany

COMPANY = RegisterCompany(
    name="Tischlerei Müller & Söhne GmbH",
    address=Address(street="Breite Straße 12", postcode="39576", town="Stendal"),
    contact=Contact(
        name="Jana Müller",
        email="jana.mueller@tischlerei-mueller.example",
        role="Ausbildungsleiterin",
    ),
    industry="Handwerk",
)
#: The consent text the company agrees to for its page on the project website.
WEBSITE_CONSENT_TEXT = "Website-Einwilligung 2026-1"
#: The company's presentation on the project website, in its own words.
PRESENTATION_ABOUT = (
    "Wir sind eine Tischlerei mit zwölf Leuten in Stendal. Wir bauen Möbel, Treppen und "
    "Fenster für Kundinnen und Kunden in der ganzen Altmark."
)
PRESENTATION_TRAINING = (
    "Bei uns arbeitest du vom ersten Tag an an echten Aufträgen mit, und in der Werkstatt "
    "hilft dir immer jemand weiter."
)
#: How the podcast names the company.
COMPANY_SHORT = "die Tischlerei Müller"


@dataclass(frozen=True)
class PositionPlan:
    """One kind of training position the company offers, and the episode that goes with it."""

    occupation: Occupation
    school_certificate: str
    description: str
    episode_title: str
    episode_description: str
    duration_s: int


POSITIONS: tuple[PositionPlan, ...] = (
    PositionPlan(
        Occupation(code="22342", name="Tischler/in"),
        "hauptschule",
        "Holz, Handwerk und ein Team, das ausbildet.",
        "DIKO trifft… die Tischlerei Müller in Stendal",
        "Jana Müller erzählt, wie ihr Familienbetrieb Tischlerinnen und Tischler ausbildet – "
        "und warum Holz nie langweilig wird.",
        1769,
    ),
    PositionPlan(
        Occupation(code="71402", name="Kaufmann/-frau für Büromanagement"),
        "realschule",
        "Aufträge, Rechnungen und Kundschaft: das Büro eines Handwerksbetriebs.",
        "DIKO trifft… das Büro der Tischlerei Müller",
        "Wer Aufträge, Rechnungen und Termine im Blick behält: Jana Müller über die "
        "kaufmännische Ausbildung im Handwerk.",
        1512,
    ),
    PositionPlan(
        Occupation(code="51312", name="Fachkraft für Lagerlogistik"),
        "hauptschule",
        "Vom Brett bis zur fertigen Küche: Material annehmen, lagern, ausliefern.",
        "DIKO trifft… das Holzlager der Tischlerei Müller",
        "Vom Brett bis zur fertigen Küche: Wie die Fachkraft für Lagerlogistik einen "
        "Handwerksbetrieb am Laufen hält.",
        1655,
    ),
)

FIRST_NAMES = (
    "Lena", "Jonas", "Mia", "Paul", "Emma", "Finn",
    "Hannah", "Luca", "Sophie", "Ben", "Marie", "Tim",
)  # fmt: skip
LAST_NAMES = (
    "Schröder", "Becker", "Krüger", "Wagner", "Hoffmann", "Schulz",
    "Lehmann", "Richter", "Neumann", "Schwarz", "Zimmermann", "Braun",
)  # fmt: skip
#: Towns around Stendal, each within the cast's reach (40 km, 55 km with a licence).
HOME_TOWNS = ("Osterburg", "Tangermünde", "Tangerhütte", "Bismark", "Arneburg", "Seehausen")
REACH_KM = 40


@dataclass(frozen=True)
class Applicant:
    first_name: str
    last_name: str
    email: str
    home_town: str
    driving_licence: bool

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class Episode:
    number: int
    title: str
    description: str
    duration_s: int


@dataclass(frozen=True)
class Run:
    """Everything run `number` (1, 2, …) of the company brings to the story."""

    number: int
    position: PositionPlan
    start_date: date
    applicant: Applicant
    episode: Episode


def _ascii(name: str) -> str:
    """`schröder` → `schroeder`, for e-mail addresses."""
    return name.lower().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))


def applicant(number: int) -> Applicant:
    """The `number`-th applicant (1, 2, …): each first name with each surname once."""
    i = number - 1
    first = FIRST_NAMES[i % len(FIRST_NAMES)]
    last = LAST_NAMES[(i + i // len(FIRST_NAMES)) % len(LAST_NAMES)]
    return Applicant(
        first_name=first,
        last_name=last,
        email=f"{_ascii(first)}.{_ascii(last)}@example.org",
        home_town=HOME_TOWNS[i % len(HOME_TOWNS)],
        driving_licence=i % 2 == 0,
    )


def run(number: int, today: date) -> Run:
    """Run `number` of the company: the position, the applicant and the episode it brings."""
    if number < 1:
        raise ValueError("runs are counted from 1")
    i = number - 1
    plan = POSITIONS[i % len(POSITIONS)]
    round_ = i // len(POSITIONS)
    start = date(today.year + 1 + round_, 8, 1)
    title = plan.episode_title if round_ == 0 else f"{plan.episode_title}, Teil {round_ + 1}"
    return Run(
        number=number,
        position=plan,
        start_date=start,
        applicant=applicant(number),
        episode=Episode(
            number=number,
            title=title,
            description=plan.episode_description,
            duration_s=plan.duration_s,
        ),
    )
