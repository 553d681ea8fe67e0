"""The form's pages on matching's HTTP side: show, submit, confirm.

Every answer is a whole German page (no script): the form again with its errors beside
the fields and the values kept; a page that says the mail is on its way; clear pages for
a form sent twice, a flood, a form from elsewhere, and a link that is forged, expired or
used before. Commands go through the broker as the service itself, with message ids
derived from the form's nonce or the link's token, so that a repeat is the same message
and matching's inbox answers it with the first reply.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from diko_matching import eligibility, store
from diko_matching.registration import form
from diko_matching.registration.confirming import CONFIRM_PATH, Confirmations
from diko_matching.registration.flood import RateLimit
from diko_matching.registration.signing import FORM_MAX_AGE_S, LinkExpired, LinkInvalid
from diko_shared.contract.base import Payload
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.envelope import ErrorDetail, new_envelope
from diko_shared.contract.matching import RegisterApplicant
from diko_shared.messaging import topology
from diko_shared.messaging.publisher import Outgoing, Publisher
from diko_shared.text import finalize

log = logging.getLogger(__name__)

FORM_PATH = "/bewerbung"
CSS_PATH = "/bewerbung/bewerbung.css"
COOKIE = "diko_bewerbung"
#: Submitted forms by nonce: a second submission of the same form finds its first.
SUBMISSIONS = store.REGISTRATIONS
#: How long the page waits for matching's own answer before saying it is on its way.
REPLY_TIMEOUT_S = 20.0
MESSAGE_IDS = uuid.UUID("6f1d3c2a-93b4-4c55-8f0e-2d7a9b1e4c60")
HERE = Path(__file__).parent
ENVIRONMENT = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    finalize=finalize,
    trim_blocks=True,
    lstrip_blocks=True,
)
#: What the summary above the form calls each field.
LABELS = {
    "first_name": "Vorname",
    "last_name": "Nachname",
    "date_of_birth": "Geburtsdatum",
    "home_town": "Wohnort",
    "email": "E-Mail-Adresse",
    "phone": "Telefonnummer",
    "wish_1": "1. Wunsch",
    "wish_2": "2. Wunsch",
    "wish_3": "3. Wunsch",
    "earliest_start": "Beginn",
    "reach_km": "Weg zum Betrieb",
    "school_certificate": "Schulabschluss",
    "driving_licence": "Führerschein",
    "guardian_name": "Name der erziehungsberechtigten Person",
    "guardian_email": "E-Mail-Adresse der erziehungsberechtigten Person",
    "guardian_ok": "Einverständnis der erziehungsberechtigten Person",
    "privacy": "Datenschutz",
}


@dataclass
class RegistrationPages:
    """The form's and the link's routes of one service process."""

    db: Callable[[], AsyncDatabase]
    publisher: Callable[[], Publisher]
    now: Callable[[], Any]
    confirmations: Confirmations
    limit: RateLimit
    privacy_version: str
    privacy_url: str
    site_url: str

    def routes(self) -> list[Route]:
        return [
            Route(FORM_PATH, self.show, methods=["GET"]),
            Route(FORM_PATH, self.submit, methods=["POST"]),
            Route(CSS_PATH, self.stylesheet, methods=["GET"]),
            Route(CONFIRM_PATH, self.ask_to_confirm, methods=["GET"]),
            Route(CONFIRM_PATH, self.confirm, methods=["POST"]),
        ]

    # -- the form -------------------------------------------------------------------------

    async def show(self, request: Request) -> Response:
        """The empty form, with a fresh nonce in the cookie and its signed token."""
        return await self._form(form.Submission(), request)

    async def submit(self, request: Request) -> Response:
        address = request.client.host if request.client else "unknown"
        if not self.limit.allow(address):
            minutes = max(1, round(self.limit.retry_after_s(address) / 60))
            page = self._message(
                "Bitte warte einen Moment",
                [
                    "Von deinem Anschluss kamen gerade sehr viele Anmeldungen. Damit niemand "
                    "unser Formular überschwemmt, nehmen wir eine Weile keine weitere an.",
                    f"Versuch es bitte in etwa {minutes} Minuten noch einmal.",
                ],
                status=429,
                tone="bad",
            )
            page.headers["Retry-After"] = str(self.limit.retry_after_s(address))
            return page
        fields = await request.form()
        signer = await self.confirmations.signer(self.db())
        nonce = signer.form_nonce(str(fields.get("token", "")))
        if nonce is None or not secrets.compare_digest(nonce, request.cookies.get(COOKIE, "")):
            return self._message(
                "Das Formular ist abgelaufen",
                [
                    "Wir konnten dieses Formular nicht annehmen: Es war zu lange offen, oder "
                    "es wurde nicht auf unserer Seite ausgefüllt.",
                    "Bitte öffne das Formular neu und schick es noch einmal ab. Deine "
                    "Angaben sind nicht gespeichert worden.",
                ],
                status=403,
                tone="bad",
                again=True,
            )
        if fields.get(form.HONEYPOT):  # a script filled the hidden field: nothing is kept
            log.info("registration form: honeypot filled, submission dropped")
            return self._sent()
        if await self.db()[SUBMISSIONS].find_one({"_id": nonce}) is not None:
            return self._twice()
        wishes = [str(fields.get(f"wish_{i}", "")) for i in range(1, form.WISHES + 1)]
        sub = form.read({k: str(v) for k, v in fields.items()}, wishes)
        command = form.check(sub, privacy_version=self.privacy_version, now=await self.now())
        if command is None:
            return await self._form(sub, request, status=422)
        return await self._register(command, nonce, sub, request)

    async def _register(
        self, command: RegisterApplicant, nonce: str, sub: form.Submission, request: Request
    ) -> Response:
        message = _command(command, f"form|{nonce}")
        try:
            reply = await self.publisher().request_raw(message, timeout=REPLY_TIMEOUT_S)
        except TimeoutError:  # the command waits on its queue and will be handled
            return self._sent()
        if reply.get("ok"):
            try:
                await self.db()[SUBMISSIONS].insert_one(
                    {
                        "_id": nonce,
                        "applicant_id": reply["data"]["applicant_id"],
                        "at": await self.now(),
                    }
                )
            except DuplicateKeyError:
                return self._twice()
            return self._sent()
        error = reply.get("error") or {}
        if error.get("code") == "invalid":
            form.note(sub, [ErrorDetail.model_validate(d) for d in error.get("details") or []])
            if sub.errors:
                return await self._form(sub, request, status=422)
        log.warning(
            "registration form: applicant.register refused", extra={"code": error.get("code")}
        )
        return self._message(
            "Das hat leider nicht geklappt",
            [
                "Bei uns ist gerade etwas schiefgegangen; deine Anmeldung ist nicht gespeichert.",
                "Bitte versuch es später noch einmal.",
            ],
            status=503,
            tone="bad",
            again=True,
        )

    async def _form(self, sub: form.Submission, request: Request, *, status: int = 200) -> Response:
        nonce = secrets.token_urlsafe(24)
        signer = await self.confirmations.signer(self.db())
        today = eligibility.berlin_today(await self.now())
        page = self._page(
            "form.html",
            title="Ich suche eine Ausbildung",
            token=signer.form_token(nonce),
            values=sub.values,
            wishes=[*sub.wishes, *[""] * form.WISHES][: form.WISHES],
            wish_count=form.WISHES,
            errors=sub.errors,
            labels=LABELS,
            anchors={"wish_1": "wish_1"},
            occupations=form.occupation_choices(),
            starts=form.start_choices(today),
            reaches=form.REACH_KM,
            schools=form.SCHOOLS,
            honeypot=form.HONEYPOT,
            status=status,
        )
        page.set_cookie(
            COOKIE,
            nonce,
            max_age=FORM_MAX_AGE_S,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path=FORM_PATH,
        )
        return page

    def _sent(self) -> Response:
        return self._message(
            "Fast geschafft!",
            [
                "Danke für deine Anmeldung. Wir haben dir gerade eine E-Mail geschickt.",
                "Bitte öffne sie und klick auf „E-Mail-Adresse bestätigen“. Erst dann zeigen "
                "wir Betrieben, dass du eine Ausbildung suchst.",
                "Keine E-Mail da? Schau bitte auch im Spam-Ordner nach.",
            ],
            tone="good",
        )

    def _twice(self) -> Response:
        return self._message(
            "Deine Anmeldung ist schon da",
            [
                "Dieses Formular hast du bereits abgeschickt, und wir haben deine Anmeldung "
                "bekommen. Du musst nichts weiter tun, außer den Link in unserer E-Mail zu "
                "öffnen.",
            ],
            tone="good",
        )

    # -- the confirmation link ------------------------------------------------------------

    async def ask_to_confirm(self, request: Request) -> Response:
        """The link's page: one button, so that a mail scanner opening links confirms nothing."""
        token = request.query_params.get("t", "")
        problem = await self._link_problem(token)
        if problem is not None:
            return problem
        return self._message(
            "Bitte bestätige deine E-Mail-Adresse",
            ["Ein Klick noch, dann ist deine Anmeldung bei DIKO Altmark fertig."],
            confirm_token=token,
        )

    async def confirm(self, request: Request) -> Response:
        token = str((await request.form()).get("t", ""))
        problem = await self._link_problem(token)
        if problem is not None:
            return problem
        signer = await self.confirmations.signer(self.db())
        applicant_id = signer.confirmed_applicant(token, await self.now())
        update = {
            "applicant_id": applicant_id,
            "email_confirmed": True,
            "changed_by": "Bestätigungslink",
        }
        message = _command_data("applicant.update", update, f"confirm|{token}")
        try:
            reply = await self.publisher().request_raw(message, timeout=REPLY_TIMEOUT_S)
        except TimeoutError:
            reply = {"ok": True}  # on its queue: it will be handled
        if not reply.get("ok"):
            return self._message(
                "Das hat leider nicht geklappt",
                [
                    "Bei uns ist gerade etwas schiefgegangen. Bitte öffne den Link später "
                    "noch einmal."
                ],
                status=503,
                tone="bad",
            )
        return self._message(
            "Danke, das war’s!",
            [
                "Deine E-Mail-Adresse ist bestätigt. Ab jetzt suchen wir passende "
                "Ausbildungsplätze für dich und zeigen dich Betrieben, die zu dir passen.",
                "Wenn ein Betrieb dich kennenlernen möchte, melden wir uns bei dir.",
            ],
            tone="good",
        )

    async def _link_problem(self, token: str) -> Response | None:
        """The page for a forged, expired or used link; None if it may confirm."""
        signer = await self.confirmations.signer(self.db())
        try:
            applicant_id = signer.confirmed_applicant(token, await self.now())
        except LinkInvalid:
            return self._message(
                "Dieser Link stimmt nicht",
                [
                    "Der Link ist unvollständig oder verändert. Bitte öffne ihn direkt aus "
                    "unserer E-Mail, ohne etwas daran zu ändern.",
                ],
                status=400,
                tone="bad",
            )
        except LinkExpired:
            return self._message(
                "Dieser Link ist abgelaufen",
                [
                    "Der Link zur Bestätigung gilt nur eine Weile, und diese Zeit ist vorbei.",
                    "Melde dich einfach noch einmal an; dann bekommst du einen neuen Link.",
                ],
                status=410,
                tone="bad",
                again=True,
            )
        applicant = await store.find_applicant(self.db(), applicant_id)
        if applicant is None:
            return self._message(
                "Diese Anmeldung gibt es nicht mehr",
                [
                    "Deine Angaben sind bei uns nicht (mehr) gespeichert. Du kannst dich "
                    "gern neu anmelden."
                ],
                status=404,
                tone="bad",
                again=True,
            )
        if applicant.email_confirmed is not False:
            return self._message(
                "Schon erledigt",
                [
                    "Deine E-Mail-Adresse ist bereits bestätigt. Du musst nichts weiter tun – "
                    "wir melden uns, wenn ein Betrieb zu dir passt.",
                ],
                tone="good",
            )
        return None

    # -- rendering ------------------------------------------------------------------------

    async def stylesheet(self, _: Request) -> Response:
        return Response(
            (HERE / "bewerbung.css").read_bytes(),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    def _message(
        self,
        title: str,
        paragraphs: list[str],
        *,
        status: int = 200,
        tone: str = "",
        again: bool = False,
        confirm_token: str | None = None,
    ) -> HTMLResponse:
        return self._page(
            "message.html",
            title=title,
            paragraphs=paragraphs,
            tone=tone,
            again=again,
            confirm_token=confirm_token,
            status=status,
        )

    def _page(self, template: str, *, status: int, **values: Any) -> HTMLResponse:
        html = ENVIRONMENT.get_template(template).render(
            privacy_url=self.privacy_url,
            privacy_version=self.privacy_version,
            site_url=self.site_url,
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


#: The pages load only their own files and post only to themselves.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _command(payload: Payload, seed: str) -> Outgoing:
    spec = CATALOGUE.for_payload(type(payload))
    return _command_data(spec.type, payload.model_dump(mode="json"), seed)


def _command_data(type_: str, data: dict[str, Any], seed: str) -> Outgoing:
    """A command sent as matching, its id derived from `seed`: a repeat is the same message.

    Only the fields given are sent (a partial update reads a null as "clear it")."""
    message_id = str(uuid.uuid5(MESSAGE_IDS, seed))
    envelope = new_envelope(
        type_, data, source="matching", id_=message_id, correlationid=message_id
    )
    return Outgoing.from_envelope(topology.COMMANDS.name, envelope)
