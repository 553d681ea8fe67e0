"""Synthetic instances: realistic Altmark profiles, plain random lists, nationwide arrays.

Profiles use the shared gazetteer (people live and train where the towns are)
and the KldB apprenticeship catalogue with its popularity weights, so that
shortlists and stable runs behave as they would on the network's real data.
Everything is drawn from `numpy.random.default_rng(seed)`: the same seed gives
the same instance.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from diko_matching.engine.instance import Instance
from diko_matching.engine.profiles import ProfileArrays
from diko_matching.engine.scoring import NO_END, ScoringWeights
from diko_shared.geo import load_gazetteer
from diko_shared.occupations import load_occupations

SCHOOLS = ("hauptschule", "realschule", "abitur")
"""Certificates drawn for synthetic applicants and required by synthetic positions."""
_SCHOOL_SHARE = (0.25, 0.5, 0.25)
_KIND_WEIGHT = {"Stadt": 6.0, "Gemeinde": 2.0, "Flecken": 2.0, "Ortsteil": 1.0}
_SEATS = {"Stendal": 5.0, "Salzwedel": 3.0, "Gardelegen": 2.0}
"""Extra weight for the district towns, where most people live and most firms are."""


def _place_weights(names: list[str], kinds: list[str]) -> np.ndarray:
    w = np.array(
        [_KIND_WEIGHT.get(k, 1.0) * _SEATS.get(n, 1.0) for n, k in zip(names, kinds, strict=True)]
    )
    return w / w.sum()


def random_lists_instance(
    n_applicants: int,
    n_positions: int,
    list_length: int,
    seed: int = 0,
    mean_capacity: float = 5.0,
) -> Instance:
    """Strict random lists of a fixed length with popular and unpopular positions.

    Positions are drawn with Pareto-distributed popularity (a few are wanted
    by many); each position ranks exactly the applicants who list it, in its
    own random order. This is the benchmark shape of the issue
    (20,000 x 4,000 with lists of 30) that the `matching` package also reads.
    """
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.5, n_positions) + 1.0
    popularity /= popularity.sum()
    k = min(list_length, n_positions)
    # Gumbel top-k: k distinct positions per applicant, drawn by popularity.
    pos_ids = [f"p{j:06d}" for j in range(n_positions)]
    app_ids = [f"a{i:06d}" for i in range(n_applicants)]
    logp = np.log(popularity)
    applicants: dict[str, list[str]] = {}
    lists = np.empty((n_applicants, k), dtype=np.int64)
    for start in range(0, n_applicants, 4096):
        stop = min(start + 4096, n_applicants)
        keys = logp + rng.gumbel(size=(stop - start, n_positions))
        top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1)
        lists[start:stop] = np.take_along_axis(top, order, axis=1)
    listed_by: list[list[int]] = [[] for _ in range(n_positions)]
    for i, row in enumerate(lists.tolist()):
        applicants[app_ids[i]] = [pos_ids[j] for j in row]
        for j in row:
            listed_by[j].append(i)
    positions: dict[str, list[str]] = {}
    for j, apps in enumerate(listed_by):
        order = rng.permutation(len(apps))
        positions[pos_ids[j]] = [app_ids[apps[o]] for o in order]
    caps = np.maximum(1, rng.poisson(mean_capacity - 1, n_positions) + 1)
    return Instance(
        applicants=applicants,
        positions=positions,
        capacities={p: int(c) for p, c in zip(pos_ids, caps, strict=True)},
    )


_SURNAMES = (
    "Schulze", "Müller", "Schmidt", "Meyer", "Lehmann", "Krüger", "Wolf", "Hoffmann",
    "Becker", "Richter", "Koch", "Neumann", "Schröder", "Zimmermann", "Braun", "Hartmann",
    "Lange", "Werner", "Krause", "Köhler", "Jahn", "Bock", "Fuchs", "Voigt",
)  # fmt: skip
_FORMS = ("GmbH", "GmbH & Co. KG", "e. K.", "KG", "OHG", "")


_TRADE = {
    "111": "Agrar", "112": "Tierhaltung", "117": "Forstbetrieb", "121": "Landschaftsbau",
    "223": "Tischlerei", "242": "Zerspanungstechnik", "244": "Metallbau", "251": "Maschinenbau",
    "252": "Kfz-Service", "261": "Anlagentechnik", "262": "Elektro", "272": "Konstruktion",
    "292": "Bäckerei", "293": "Gasthof", "321": "Bau", "332": "Malerbetrieb", "333": "Holzbau",
    "342": "Haustechnik", "434": "IT-Service", "513": "Logistik", "516": "Spedition",
    "521": "Transporte", "531": "Sicherheitsdienst", "612": "Großhandel", "621": "Markt",
    "623": "Landbäckerei", "632": "Hotel", "633": "Restaurant", "713": "Werke", "714": "Büro",
    "721": "Finanzdienste", "723": "Steuerberatung", "732": "Verwaltung", "811": "Praxis",
    "813": "Pflegedienst", "823": "Friseursalon",
}  # fmt: skip


def _company_name(rng: np.random.Generator, code: str, town: str) -> str:
    surname = _SURNAMES[rng.integers(len(_SURNAMES))]
    form = _FORMS[rng.integers(len(_FORMS))]
    trade = _TRADE.get(code[:3], "Betrieb")
    return " ".join(x for x in (surname, trade, form) if x) + f" ({town})"


def generate_profiles(
    n_applicants: int, n_positions: int, seed: int = 0, year: int = 2027
) -> dict[str, Any]:
    """A realistic Altmark profile instance (JSON-ready) for trials and benchmarks.

    Homes and training places follow the gazetteer's Altmark list, weighted towards
    the towns; wished and offered occupations follow the catalogue's popularity;
    reach, licences, certificates and start dates follow the usual shapes of an
    apprenticeship year starting 1 August.
    """
    rng = np.random.default_rng(seed)
    gaz = load_gazetteer()
    cat = load_occupations()
    names = [p.name for p in gaz.altmark_list]
    weights = _place_weights(names, [p.kind for p in gaz.altmark_list])
    firm_weights = weights**1.5 / (weights**1.5).sum()  # firms cluster more than homes
    pop = cat.code_popularity()
    codes = list(pop)
    code_p = np.array([pop[c] for c in codes])
    code_p /= code_p.sum()
    usual_school = {o.code: o.school for o in cat.occupations}
    aug1 = dt.date(year, 8, 1)
    sep1 = dt.date(year, 9, 1)

    applicants: dict[str, Any] = {}
    width = max(5, len(str(max(n_applicants, n_positions))))
    homes = rng.choice(len(names), size=n_applicants, p=weights)
    for i in range(n_applicants):
        n_wishes = int(rng.choice([1, 2, 3, 4], p=[0.25, 0.35, 0.3, 0.1]))
        wishes = rng.choice(len(codes), size=n_wishes, replace=False, p=code_p)
        late = rng.random() < 0.15
        applicants[f"a{i:0{width}d}"] = {
            "home": names[homes[i]],
            "occupations": [codes[w] for w in wishes],
            "reach_km": float(
                rng.choice([15, 20, 25, 30, 40, 50], p=[0.1, 0.2, 0.25, 0.25, 0.12, 0.08])
            ),
            "licence": bool(rng.random() < 0.35),
            "school": SCHOOLS[rng.choice(3, p=_SCHOOL_SHARE)],
            "available_from": (sep1 if late else aug1).isoformat(),
            "available_until": None if rng.random() < 0.7 else dt.date(year, 10, 31).isoformat(),
        }
    positions: dict[str, Any] = {}
    towns = rng.choice(len(names), size=n_positions, p=firm_weights)
    for j in range(n_positions):
        code = codes[rng.choice(len(codes), p=code_p)]
        school = usual_school[code]
        if rng.random() < 0.3:  # some firms ask for less than is usual
            school = SCHOOLS[max(0, SCHOOLS.index(school) - 1)]
        positions[f"p{j:0{width}d}"] = {
            "company": _company_name(rng, code, names[towns[j]]),
            "town": names[towns[j]],
            "occupation": code,
            "places": int(rng.choice([1, 2, 3, 4], p=[0.7, 0.2, 0.07, 0.03])),
            "school": school,
            "start": (aug1 if rng.random() < 0.85 else sep1).isoformat(),
        }
    return {"applicants": applicants, "positions": positions, "optimal": "applicant", "seed": seed}


def nationwide_arrays(
    n_applicants: int = 450_000,
    n_positions: int = 200_000,
    n_places: int = 500_000,
    seed: int = 0,
    n_towns: int = 3000,
) -> ProfileArrays:
    """A synthetic Germany-sized instance straight into arrays (no JSON, no gazetteer).

    Towns are scattered over Germany's bounding box with Pareto-distributed
    sizes; people and firms sit in towns with a few km of jitter. Occupations
    and their popularity are the real catalogue's; capacities add up to
    exactly `n_places`. Geography is synthetic: only the densities matter here.
    """
    rng = np.random.default_rng(seed)
    cat = load_occupations()
    pop = cat.code_popularity()
    codes = np.array([int(c) for c in pop], dtype=np.int64)
    code_p = np.array(list(pop.values()))
    code_p /= code_p.sum()
    t_lat = rng.uniform(47.4, 54.8, n_towns)
    t_lon = rng.uniform(6.0, 14.9, n_towns)
    size = rng.pareto(1.1, n_towns) + 1.0
    size /= size.sum()

    def place(n: int) -> tuple[np.ndarray, np.ndarray]:
        town = rng.choice(n_towns, size=n, p=size)
        jitter = rng.normal(0.0, 0.03, (2, n))  # about 3 km
        return t_lat[town] + jitter[0], t_lon[town] + jitter[1] * 1.6

    a_lat, a_lon = place(n_applicants)
    p_lat, p_lon = place(n_positions)
    n_wishes = rng.choice([1, 2, 3, 4], size=n_applicants, p=[0.25, 0.35, 0.3, 0.1])
    wish_indptr = np.concatenate(([0], np.cumsum(n_wishes))).astype(np.int64)
    # distinct wishes per applicant: Gumbel top-k over the popularity
    keys = np.log(code_p)[None, :] + rng.gumbel(size=(n_applicants, len(codes)))
    ranked = np.argsort(-keys, axis=1)[:, :4]
    take = np.arange(4)[None, :] < n_wishes[:, None]
    wish_code = codes[ranked[take]]
    weights = ScoringWeights()
    reach = rng.choice(
        [15.0, 20.0, 25.0, 30.0, 40.0, 50.0],
        size=n_applicants,
        p=[0.1, 0.2, 0.25, 0.25, 0.12, 0.08],
    )
    licence = rng.random(n_applicants) < 0.35
    aug1 = dt.date(2027, 8, 1).toordinal()
    capacity = 1 + rng.multinomial(n_places - n_positions, np.full(n_positions, 1.0 / n_positions))
    return ProfileArrays(
        app_ids=[f"a{i}" for i in range(n_applicants)],
        pos_ids=[f"p{j}" for j in range(n_positions)],
        a_lat=a_lat,
        a_lon=a_lon,
        a_reach=reach + np.where(licence, weights.licence_bonus_km, 0.0),
        a_school=rng.choice(4, size=n_applicants, p=[0.05, 0.25, 0.45, 0.25]).astype(np.int64),
        a_from=np.where(rng.random(n_applicants) < 0.85, aug1, aug1 + 31).astype(np.int64),
        a_until=np.full(n_applicants, NO_END, np.int64),
        wish_indptr=wish_indptr,
        wish_code=wish_code,
        p_lat=p_lat,
        p_lon=p_lon,
        p_code=codes[rng.choice(len(codes), size=n_positions, p=code_p)],
        p_school=rng.choice(4, size=n_positions, p=[0.0, 0.45, 0.4, 0.15]).astype(np.int64),
        p_start=np.where(rng.random(n_positions) < 0.85, aug1, aug1 + 31).astype(np.int64),
        capacity=capacity.astype(np.int64),
    )


def generate_fair(
    n_companies: int, n_applicants: int, n_slots: int, seed: int = 0, min_interviews: int = 2
) -> dict[str, Any]:
    """A fair instance (JSON-ready): popular and quiet stands, partial attendance.

    Companies get one to three tables and some leave early; applicants wish
    three to six companies, drawn by a skewed popularity, and come for a
    contiguous part of the day.
    """
    rng = np.random.default_rng(seed)
    gaz = load_gazetteer()
    cat = load_occupations()
    towns = [p.name for p in gaz.altmark_list if p.kind == "Stadt"]
    codes = cat.codes()
    popularity = rng.pareto(1.2, n_companies) + 1.0
    popularity /= popularity.sum()
    companies: dict[str, Any] = {}
    width = max(3, len(str(max(n_companies, n_applicants))))
    for j in range(n_companies):
        tables = int(rng.choice([1, 2, 3], p=[0.55, 0.35, 0.1]))
        leave = (
            n_slots if rng.random() < 0.8 else int(rng.integers(max(1, n_slots // 2), n_slots + 1))
        )
        code = codes[rng.integers(len(codes))]
        companies[f"c{j:0{width}d}"] = {
            "name": _company_name(rng, code, towns[rng.integers(len(towns))]),
            "tables": tables,
            "slots": None if leave == n_slots else list(range(leave)),
        }
    ids = list(companies)
    applicants: dict[str, Any] = {}
    for i in range(n_applicants):
        k = int(min(n_companies, rng.integers(3, 7)))
        wishes = rng.choice(n_companies, size=k, replace=False, p=popularity)
        length = int(rng.integers(max(1, n_slots * 6 // 10), n_slots + 1))
        first = int(rng.integers(0, n_slots - length + 1))
        applicants[f"a{i:0{width}d}"] = {
            "wishes": [ids[w] for w in wishes],
            "slots": None if length == n_slots else list(range(first, first + length)),
        }
    return {
        "title": "Bewerberbörse Altmark",
        "date": dt.date(2027, 3, 13).isoformat(),
        "start": "09:00",
        "slot_minutes": 15,
        "n_slots": n_slots,
        "min_interviews": min_interviews,
        "companies": companies,
        "applicants": applicants,
    }
