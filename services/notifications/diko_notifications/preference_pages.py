"""The signed pages behind every e-mail's footer: preferences and unsubscribing.

`GET /preferences/{token}` shows a form (plain HTML, no script: radio buttons, a select,
time fields), `POST` saves it. A staff member chooses per kind of mail: at once, in the
daily overview, or not at all; the overview's hour; quiet hours; quiet weekends. A
company's contact person, an applicant or another address chooses whether optional
mail comes; the page says which mail comes anyway and why.

`POST /unsubscribe/{token}` is RFC 8058's one-click unsubscribe (a mail client sends
`List-Unsubscribe=One-Click`): for staff it switches off the kind of mail the link came
with, for anyone else it stops optional mail. `GET` only asks (mail scanners fetch
links), with a button that POSTs. Staff changes go through `staff.preferences`, as any
other sender's would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from pymongo.asynchronous.database import AsyncDatabase
from starlette.requests import Request
from starlette.responses import HTMLResponse

from diko_notifications import store
from diko_notifications.links import PreferenceLinkInvalid, PreferenceLinks, PreferenceTarget
from diko_notifications.preferences import KINDS, Prefs
from diko_notifications.render import render_page
from diko_notifications.web import BRAND_ROOT, HEADERS
from diko_shared.contract.notifications import KindSetting, QuietHours, SetPreferences
from diko_shared.messaging.publisher import Publisher

log = logging.getLogger(__name__)

PREFERENCES_PATH = "/preferences/{token}"
UNSUBSCRIBE_PATH = "/unsubscribe/{token}"
KIND_LABELS = {
    "match.proposed": "Vermittlungsvorschläge",
    "position.filled": "Besetzte Ausbildungsstellen",
    "consultation.follow_up_due": "Wiedervorlagen Ihrer Beratungen",
    "fair.planned": "Bewerberbörsen",
    "episode.published": "Neue Podcastfolgen",
    "notice": "Hinweise anderer Bereiche (zum Beispiel Freigaben)",
}
MODES = (
    ("immediate", "sofort"),
    ("digest", "gesammelt in der täglichen Übersicht"),
    ("off", "gar nicht"),
)
#: The times quiet hours may start and end at: every half hour, as staff think of them.
CLOCKS = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 30))
#: Kinds whose mail goes out whatever anyone unsubscribed from.
TRANSACTIONAL = {"placement", "fair", "bounce"}


@dataclass(frozen=True)
class Shown:
    title: str
    message: str = ""
    tone: str = "ask"
    detail: str = ""
    ask: bool = False
    done: bool = False
    button: str = ""
    preferences_url: str = ""
    preferences_label: str = "Zu den Einstellungen"


class PreferencePages:
    def __init__(self, links: PreferenceLinks, publisher: Publisher, db: AsyncDatabase) -> None:
        self._links = links
        self._publisher = publisher
        self._db = db

    # -- preferences ---------------------------------------------------------------------

    async def show(self, request: Request) -> HTMLResponse:
        target = self._target(request)
        if target is None:
            return _invalid()
        return await self._form(target, request.path_params["token"])

    async def save(self, request: Request) -> HTMLResponse:
        target = self._target(request)
        if target is None:
            return _invalid()
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = request.path_params["token"]
        if target.recipient_kind == "staff":
            command = _preferences_from_form(target.recipient_key, fields)
            if command is None:
                return await self._form(
                    target,
                    token,
                    "Bitte geben Sie für die Ruhezeit zwei verschiedene Uhrzeiten an.",
                    status=400,
                )
            try:
                reply = await self._publisher.request(
                    command, subject=target.recipient_key, timeout=15.0
                )
            except Exception as exc:  # noqa: BLE001 - the broker is unreachable: try again later
                log.warning("could not send staff.preferences", extra={"error": repr(exc)})
                return await self._form(
                    target,
                    token,
                    (
                        "Ihre Einstellungen konnten gerade nicht gespeichert werden. "
                        "Bitte versuchen Sie es gleich noch einmal."
                    ),
                    status=503,
                )
            if not reply.get("ok"):
                message = str(
                    (reply.get("error") or {}).get("message")
                    or "Die Einstellungen ließen sich nicht speichern."
                )
                return await self._form(target, token, message, status=400)
            return await self._form(target, token, "Ihre Einstellungen sind gespeichert.")
        optional = fields.get("optional", [""])[0] == "on"
        await store.set_opt_out(self._db, target.recipient_key, not optional, datetime.now(UTC))
        young = target.recipient_kind == "applicant"
        saved = "Gespeichert." if young else "Ihre Einstellung ist gespeichert."
        return await self._form(target, token, saved)

    async def _form(
        self, target: PreferenceTarget, token: str, message: str = "", status: int = 200
    ) -> HTMLResponse:
        if target.recipient_kind == "staff":
            doc = await store.staff_doc(self._db, target.recipient_key)
            if doc is None:
                return _gone()
            prefs = await store.preferences_of(self._db, target.recipient_key)
            form = _staff_form(prefs, bool(doc.get("team")))
            title = f"E-Mail-Einstellungen für {doc['name']}"
        else:
            form = _other_form(
                target.recipient_kind, not await store.opted_out(self._db, target.recipient_key)
            )
            title = (
                "Deine E-Mails von DIKO Altmark"
                if target.recipient_kind == "applicant"
                else "E-Mail-Einstellungen"
            )
        html = render_page(
            "preferences.html",
            {
                "page": Shown(title, message, tone="done" if message and status == 200 else "ask"),
                "form": form,
                "brand_root": BRAND_ROOT,
            },
        )
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    # -- one-click unsubscribe -----------------------------------------------------------

    async def ask(self, request: Request) -> HTMLResponse:
        """GET: what unsubscribing would stop, and a button; nothing changes yet."""
        target = self._target(request)
        if target is None:
            return _invalid()
        young = target.recipient_kind == "applicant"
        what = _what(target)
        if target.kind in TRANSACTIONAL:
            shown = Shown(
                "Abbestellen",
                _transactional_sentence(young),
                detail="Andere, freiwillige Nachrichten lassen sich hier abbestellen.",
                ask=True,
                button="Freiwillige Nachrichten abbestellen",
                preferences_url=self._links.preferences_url(target.recipient_key),
            )
        else:
            shown = Shown(
                "Abbestellen?",
                f"Möchtest du {what} nicht mehr bekommen?"
                if young
                else f"Möchten Sie {what} nicht mehr bekommen?",
                ask=True,
                button="Abmelden" if young else "Abbestellen",
                preferences_url=self._links.preferences_url(target.recipient_key),
            )
        return _unsubscribe_page(shown)

    async def one_click(self, request: Request) -> HTMLResponse:
        """POST (RFC 8058, or the page's button): switch it off at once."""
        target = self._target(request)
        if target is None:
            return _invalid()
        young = target.recipient_kind == "applicant"
        url = self._links.preferences_url(target.recipient_key)
        if target.recipient_kind != "staff":
            await store.set_opt_out(self._db, target.recipient_key, True, datetime.now(UTC))
            detail = _transactional_sentence(young)
            message = (
                "Du bist abgemeldet: Freiwillige Nachrichten bekommst du nicht mehr."
                if young
                else "Sie sind abgemeldet: Freiwillige Nachrichten schicken wir Ihnen nicht mehr."
            )
            return _unsubscribe_page(
                Shown(
                    "Abgemeldet",
                    message,
                    tone="done",
                    detail=detail,
                    done=True,
                    preferences_url=url,
                )
            )
        doc = await store.staff_doc(self._db, target.recipient_key)
        if doc is None:
            return _gone()
        if doc.get("team"):
            return _unsubscribe_page(
                Shown(
                    "Nicht möglich",
                    (
                        "Die Team-Adresse bekommt, was sonst niemand bekommt; "
                        "abbestellen lässt sich dort nichts."
                    ),
                    tone="stop",
                    preferences_url=url,
                )
            )
        prefs = await store.preferences_of(self._db, target.recipient_key)
        kinds = _kinds_to_stop(target.kind, prefs)
        if not kinds:
            return _unsubscribe_page(
                Shown(
                    "Nichts abzubestellen",
                    _transactional_sentence(False),
                    tone="stop",
                    preferences_url=url,
                )
            )
        try:
            reply = await self._publisher.request(
                SetPreferences(
                    staff_id=target.recipient_key,
                    kinds=[KindSetting(kind=k, mode="off") for k in kinds],  # type: ignore[arg-type]
                ),
                subject=target.recipient_key,
                timeout=15.0,
            )
        except Exception as exc:  # noqa: BLE001
            log.warning("could not send staff.preferences", extra={"error": repr(exc)})
            return _unsubscribe_page(
                Shown(
                    "Gerade nicht möglich",
                    (
                        "Das Abbestellen hat gerade nicht geklappt. "
                        "Bitte versuchen Sie es gleich noch einmal."
                    ),
                    tone="stop",
                    ask=True,
                    button="Noch einmal versuchen",
                    preferences_url=url,
                ),
                status=503,
            )
        if not reply.get("ok"):
            return _unsubscribe_page(
                Shown(
                    "Nicht möglich",
                    str((reply.get("error") or {}).get("message")),
                    tone="stop",
                    preferences_url=url,
                ),
                status=400,
            )
        names = ", ".join(KIND_LABELS[k] for k in kinds)
        return _unsubscribe_page(
            Shown(
                "Abbestellt",
                f"Sie bekommen keine E-Mails mehr zu: {names}.",
                tone="done",
                detail="Alles andere bleibt, wie es war.",
                done=True,
                preferences_url=url,
                preferences_label="Alle Einstellungen ansehen",
            )
        )

    def _target(self, request: Request) -> PreferenceTarget | None:
        try:
            return self._links.read(request.path_params["token"])
        except PreferenceLinkInvalid:
            return None


def _what(target: PreferenceTarget) -> str:
    if target.recipient_kind == "staff" and target.kind in KIND_LABELS:
        return f"E-Mails zu „{KIND_LABELS[target.kind]}“"
    if target.recipient_kind == "staff" and target.kind == "digest":
        return "die tägliche Übersicht"
    return "freiwillige Nachrichten (Hinweise und Neuigkeiten)"


def _kinds_to_stop(kind: str, prefs: Prefs) -> list[str]:
    if kind in KINDS:
        return [kind]
    if kind == "digest":
        return [k for k in KINDS if prefs.mode(k) == "digest"]
    return []


def _transactional_sentence(young: bool) -> str:
    if young:
        return (
            "Nachrichten zu deiner Vermittlung und deinen Terminen bekommst du weiter: Ohne "
            "sie würdest du nicht erfahren, wann und wo es weitergeht."
        )
    return (
        "Nachrichten zu Vermittlungen, Terminen und nicht zustellbaren Adressen kommen "
        "weiterhin: Ohne sie ginge eine Vermittlung oder ein Termin verloren."
    )


def _staff_form(prefs: Prefs, team: bool) -> dict[str, Any]:
    return {
        "kind": "staff",
        "team": team,
        "modes": MODES,
        "rows": [{"kind": k, "label": KIND_LABELS[k], "mode": prefs.mode(k)} for k in KINDS],
        "digest_hour": prefs.digest_hour,
        "quiet": prefs.quiet is not None,
        "quiet_start": f"{prefs.quiet[0]:%H:%M}" if prefs.quiet else "19:00",
        "quiet_end": f"{prefs.quiet[1]:%H:%M}" if prefs.quiet else "07:00",
        "weekends": prefs.weekends,
        "clocks": CLOCKS,
    }


def _other_form(kind: str, optional: bool) -> dict[str, Any]:
    if kind == "applicant":
        return {
            "kind": kind,
            "intro": "Hier kannst du einstellen, welche E-Mails du von uns bekommst.",
            "legend": "Freiwillige Nachrichten",
            "optional": optional,
            "optional_label": "Ja, schickt mir auch Tipps und Neuigkeiten.",
            "save": "Speichern",
            "always": _transactional_sentence(True),
        }
    return {
        "kind": kind,
        "intro": "Hier legen Sie fest, welche E-Mails Sie von DIKO Altmark bekommen.",
        "legend": "Freiwillige Nachrichten",
        "optional": optional,
        "optional_label": "Hinweise und Neuigkeiten von DIKO Altmark erhalten",
        "save": "Einstellung speichern",
        "always": _transactional_sentence(False),
    }


def _preferences_from_form(staff_id: str, fields: dict[str, list[str]]) -> SetPreferences | None:
    kinds = []
    for kind in KINDS:
        value = fields.get(f"kind.{kind}", [""])[0]
        if value in ("immediate", "digest", "off"):
            kinds.append(KindSetting(kind=kind, mode=value))  # type: ignore[arg-type]
    hour_text = fields.get("digest_hour", [""])[0]
    digest_hour = int(hour_text) if hour_text.isdigit() and int(hour_text) < 24 else None
    weekends = fields.get("weekends", [""])[0] == "on"
    if fields.get("quiet", [""])[0] == "on":
        start, end = fields.get("quiet_start", [""])[0], fields.get("quiet_end", [""])[0]
        try:
            quiet = QuietHours(start=start, end=end)
        except ValueError:
            return None
        return SetPreferences(
            staff_id=staff_id,
            kinds=kinds,
            digest_hour=digest_hour,
            quiet_hours=quiet,
            weekends=weekends,
        )
    return SetPreferences(
        staff_id=staff_id,
        kinds=kinds,
        digest_hour=digest_hour,
        weekends=weekends,
        clear=["quiet_hours"],
    )


def _unsubscribe_page(shown: Shown, status: int = 200) -> HTMLResponse:
    html = render_page("unsubscribe.html", {"page": shown, "brand_root": BRAND_ROOT})
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _invalid() -> HTMLResponse:
    return _unsubscribe_page(
        Shown(
            "Link ungültig",
            (
                "Dieser Link ist ungültig. Bitte öffnen Sie ihn direkt aus der E-Mail; "
                "beim Kopieren wird ein Link manchmal abgeschnitten."
            ),
            tone="stop",
        ),
        status=400,
    )


def _gone() -> HTMLResponse:
    return _unsubscribe_page(
        Shown(
            "Nicht mehr vorhanden", "Zu diesem Link gibt es keine Einstellungen mehr.", tone="stop"
        ),
        status=404,
    )
