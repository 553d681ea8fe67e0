"""The timetables over HTTP, for staff to open and print (matching's own port).

| path | what |
| --- | --- |
| `/fairs/{fair_id}` | the staff overview (numbers, shortfalls with reasons, stages) |
| `/fairs/{fair_id}/unternehmen.html`, `.pdf` | every company's timetable |
| `/fairs/{fair_id}/bewerber.html`, `.pdf` | every applicant's timetable |
| `/fairs/{fair_id}/unternehmen/{ref}.html`, `.pdf`, `.ics` | one company's |
| `/fairs/{fair_id}/bewerber/{ref}.html`, `.pdf`, `.ics` | one applicant's |

The pages carry applicants' names: matching's port belongs on the internal network, as
the deployment has it (see deploy/README.md), not on the internet.
"""

from __future__ import annotations

from collections.abc import Callable

from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from diko_matching.fairs import calendars, documents, printing
from diko_matching.fairs.handlers import find_fair
from diko_shared.brand import web as brand
from diko_shared.contract.matching import Fair

SIDES = ("unternehmen", "bewerber")
PDF = "application/pdf"
ICS = "text/calendar; charset=utf-8"


def _not_found(what: str) -> HTMLResponse:
    page = (
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>Nicht gefunden'
        f"</title></head><body><p>{what} gibt es nicht.</p></body></html>"
    )
    return HTMLResponse(page, status_code=404)


def fair_routes(db: Callable[[], AsyncDatabase]) -> list[Route]:
    """The routes; `db` gives the service's database once it is connected."""

    async def load(request: Request) -> Fair | None:
        return await find_fair(db(), request.path_params["fair_id"])

    async def overview(request: Request) -> Response:
        fair = await load(request)
        if fair is None:
            return _not_found("Diese Bewerberbörse")
        return HTMLResponse(documents.overview_html(fair, brand_root=brand.PREFIX))

    async def everyone(request: Request) -> Response:
        fair = await load(request)
        if fair is None:
            return _not_found("Diese Bewerberbörse")
        side, kind = request.path_params["side"], request.path_params["kind"]
        if side not in SIDES or kind not in ("html", "pdf"):
            return _not_found("Diese Seite")
        if kind == "html":
            html = documents.companies_html if side == "unternehmen" else documents.applicants_html
            return HTMLResponse(html(fair, brand_root=brand.PREFIX))
        pdf = printing.companies_pdf if side == "unternehmen" else printing.applicants_pdf
        return Response(pdf(fair), media_type=PDF, headers=_file(f"{side}.pdf"))

    async def one(request: Request) -> Response:
        fair = await load(request)
        if fair is None:
            return _not_found("Diese Bewerberbörse")
        side, ref, kind = (request.path_params[k] for k in ("side", "ref", "kind"))
        if side not in SIDES or kind not in ("html", "pdf", "ics"):
            return _not_found("Diese Seite")
        people = fair.companies if side == "unternehmen" else fair.applicants
        known = {x.ref for x in people}
        if ref not in known:
            return _not_found("Diesen Zeitplan")
        if kind == "html":
            html = documents.companies_html if side == "unternehmen" else documents.applicants_html
            return HTMLResponse(html(fair, ref, brand_root=brand.PREFIX))
        if kind == "pdf":
            pdf = printing.companies_pdf if side == "unternehmen" else printing.applicants_pdf
            return Response(pdf(fair, ref), media_type=PDF, headers=_file(f"{ref}.pdf"))
        ics = calendars.company_ics if side == "unternehmen" else calendars.applicant_ics
        body = ics(fair, ref)
        if body is None:
            return _not_found("Einen Kalender für eine Börse ohne Datum")
        return Response(body, media_type=ICS, headers=_file(f"{ref}.ics"))

    side = "{side:str}"
    return [
        Route("/fairs/{fair_id:str}", overview),
        Route(f"/fairs/{{fair_id:str}}/{side}.{{kind:str}}", everyone),
        Route(f"/fairs/{{fair_id:str}}/{side}/{{ref:str}}.{{kind:str}}", one),
    ]


def _file(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'inline; filename="{name}"'}
