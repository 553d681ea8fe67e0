"""One small function per message the notifications service consumes (wired in `app.py`).

Staff, preferences and the copies of companies' contact persons are ordinary staged
writes. The reactions send e-mail, a side effect no redelivery can take back, so they
follow the platform guide's rule: record the intent first, check it before acting
(`sending.Postman`). Who receives an event is fixed when it first arrives (`fanouts`);
what each staff member receives now, later (quiet hours) or in the digest follows
their preferences (`preferences.route`); waiting mail is a due item (`scheduled.py`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from diko_notifications import (
    bounces,
    delivery,
    domain,
    letters,
    minors,
    proposals,
    recipients,
    store,
)
from diko_notifications.delivery import Fate
from diko_notifications.domain import ActionLinks, Letter, Staff
from diko_notifications.ics import timetable
from diko_notifications.preferences import Prefs, as_payload, route
from diko_notifications.proposals import DecisionRecord
from diko_notifications.recipients import (
    ContactCopy,
    Recipient,
    StaffMember,
    Where,
    address_key,
    email_key,
)
from diko_notifications.sending import Mail, Outcome, Postman, record_of
from diko_shared import due
from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.contract.companies import (
    CompanyMerged,
    CompanyRegistered,
    CompanyUpdated,
    ConsentChanged,
    ContactAdded,
    ContactRemoved,
    ContactUpdated,
    FollowUpDue,
    PositionFilled,
)
from diko_shared.contract.envelope import ErrorDetail, new_envelope
from diko_shared.contract.matching import (
    ApplicantUpdated,
    ApplicantWithdrawn,
    Fair,
    FairPlanned,
    GetApplicant,
    GetFair,
    MatchAccepted,
    MatchDeclined,
    MatchProposed,
    MatchWithdrawn,
)
from diko_shared.contract.media import EpisodePublished
from diko_shared.contract.notifications import (
    BounceOutcome,
    BounceRecorded,
    DeliveryList,
    GetStaff,
    NotificationAccepted,
    NotificationFailed,
    NotificationSent,
    Preferences,
    RegisterStaff,
    Responsibilities,
    SendNotification,
    SetPreferences,
    StaffRecord,
    StaffRef,
    Subscribe,
    Subscription,
    UpdateStaff,
)
from diko_shared.due import Clock
from diko_shared.messaging import topology
from diko_shared.messaging.derived import derived_id, derived_uuid
from diko_shared.messaging.errors import Conflict, NotFound, NotYetKnown, TransientError
from diko_shared.messaging.publisher import Outgoing, Publisher
from diko_shared.rights.participant import is_erased
from diko_shared.store.group_commit import Write

log = logging.getLogger(__name__)

#: How long a handler waits for matching's answer to `applicant.get` or `fair.get`.
MATCHING_TIMEOUT_S = 10.0
#: What a proposal's page says when its applicant withdrew, by matching's reason.
WITHDRAWN_TEXT = {
    "found_elsewhere": "Die Bewerberin oder der Bewerber hat anderswo eine Ausbildung gefunden.",
    "no_longer_interested": "Die Bewerberin oder der Bewerber sucht nicht mehr.",
    "unreachable": "Die Bewerberin oder der Bewerber ist nicht mehr erreichbar.",
    "other": "Die Bewerberin oder der Bewerber hat sich zurückgezogen.",
}
#: Letters whose outcome is announced under an id of the delivery's, not the message's
#: (`Handlers._announce_done`).
ANNOUNCED_BY_DELIVERY = ("notice", "bounce")
#: What staff mail each event is (their preferences name these kinds).
KIND_OF = {
    "match.proposed": "match.proposed",
    "position.filled": "position.filled",
    "episode.published": "episode.published",
    "fair.planned": "fair.planned",
    "consultation.follow_up_due": "consultation.follow_up_due",
    "notification.send": "notice",
}


def derived(prefix: str, *parts: str) -> str:
    """An id derived from `parts` alone (not from a message): the same for every sender."""
    return derived_id(prefix, "|".join(parts))


def payload_of(event_type: str, data: Any) -> Any:
    """A stored payload back as its model (strict models read dates from JSON strings).

    Mail queued before an upgrade raised the event's version holds the version before:
    it is read as that version and upgraded, as the event itself would have been.
    """
    spec = CATALOGUE.require(event_type)
    text = json.dumps(data)
    try:
        return spec.payload.model_validate_json(text)
    except ValidationError:
        for earlier in sorted(spec.earlier, key=lambda old: old.version, reverse=True):
            try:
                return earlier.upgrade(earlier.payload.model_validate_json(text))
            except ValidationError:
                continue
        raise


def letter_for(event_type: str, payload: Any, recipient: Recipient, links: ActionLinks) -> Letter:
    """The staff e-mail about one event (or one part of it)."""
    if isinstance(payload, MatchProposed):
        return domain.proposal_letter(payload, recipient, links)
    if isinstance(payload, PositionFilled):
        return domain.filled_letter(payload, recipient)
    if isinstance(payload, EpisodePublished):
        return domain.episode_letter(payload, recipient)
    if isinstance(payload, FollowUpDue):
        return letters.follow_up_letter(payload)
    if isinstance(payload, FairPlanned):
        return letters.fair_staff_letter(payload, payload.without_address)
    if isinstance(payload, SendNotification):
        return letters.notice_letter(payload)
    raise TypeError(f"no e-mail for {event_type}")


@dataclass(frozen=True)
class StaffItem:
    """What one staff member receives of an event: the payload (maybe a part of it), and
    the member's preferences as read to choose the recipients."""

    member: StaffMember
    payload: Any
    prefs: Prefs


@dataclass
class Handlers:
    """The handlers, with what they need to write and send e-mails."""

    links: ActionLinks
    postman: Postman
    publisher: Publisher
    clock: Clock
    team_email: str
    team_name: str
    retention: timedelta

    @property
    def team_id(self) -> str | None:
        return derived("stf", "team", email_key(self.team_email)) if self.team_email else None

    async def start(self, db: AsyncDatabase) -> None:
        """The team address as a staff record; every company's list of its contact persons
        (`store.list_all_contacts`); subscriptions of release 1.1 as preferences; the
        housekeeping of what expires, at once.

        The retention item moves to now at every start (then it schedules itself hourly), so
        that what expired while the service was down goes at start-up, not an hour later.
        """
        if self.team_id:
            await store.ensure_team(db, self.team_id, self.team_name, self.team_email)
        await store.list_all_contacts(db)
        await adopt_subscriptions(db, await self.clock.now())
        await due.schedule_now(db, "retention", "deliveries", await self.clock.now(), {})

    # -- staff ---------------------------------------------------------------------------

    async def register_staff(self, ctx: Any) -> StaffRef:
        """`staff.register`: one staff member per e-mail address."""
        data: RegisterStaff = ctx.data
        responsibilities = recipients.checked(data.responsibilities)
        staff = domain.register(data, ctx.new_id("stf"))
        if await is_erased(ctx.db, staff.staff_id):  # the id derives from the message
            raise Conflict(f"Mitarbeiter/in {staff.staff_id} wurde gelöscht; bitte neu anlegen")
        holder = await store.claim_email(ctx.db, domain.email_key(staff.email), staff.staff_id)
        if holder != staff.staff_id:
            raise domain.duplicate_email(staff.email, holder)
        ctx.write(store.insert_staff(staff, ctx.occurred_at, responsibilities))
        return StaffRef(staff_id=staff.staff_id)

    async def update_staff(self, ctx: Any) -> StaffRecord:
        """`staff.update`: what is named changes; a new address is claimed like at registration."""
        data: UpdateStaff = ctx.data
        doc = await self._staff_or_not_found(ctx.db, data.staff_id)
        fields: dict[str, Any] = {}
        for name in ("name", "role", "active"):
            if getattr(data, name) is not None:
                fields[name] = getattr(data, name)
        if data.responsibilities is not None:
            fields["responsibilities"] = recipients.checked(data.responsibilities)
        if data.email is not None:
            new_key = email_key(data.email)
            holder = await store.claim_email(ctx.db, new_key, data.staff_id)
            if holder != data.staff_id:
                raise domain.duplicate_email(data.email, holder)
            if new_key != email_key(doc["email"]):
                await store.release_email(ctx.db, email_key(doc["email"]), data.staff_id)
            await self.postman.undeliverable.lift(ctx.db, new_key)
            fields["email"] = data.email.strip()
        ctx.write(store.update_staff(data.staff_id, ctx.key, fields))
        return await self._staff_record(ctx.db, {**doc, **fields})

    async def get_staff(self, ctx: Any) -> StaffRecord:
        data: GetStaff = ctx.data
        staff_id = data.staff_id or await store.staff_by_email(ctx.db, data.email or "")
        doc = await self._staff_or_not_found(
            ctx.db, staff_id or "", field="email" if data.email else "staff_id"
        )
        return await self._staff_record(ctx.db, doc)

    async def subscribe(self, ctx: Any) -> Subscription:
        """`staff.subscribe`: the topics named get the mode, the other topics are off."""
        data: Subscribe = ctx.data
        await self._staff_or_not_found(ctx.db, data.staff_id)
        before = await store.preferences_of(ctx.db, data.staff_id)
        prefs = preferences_from_subscription(data, before)
        ctx.write(store.set_preferences(data.staff_id, prefs, ctx.key, ctx.occurred_at))
        topics = [
            t
            for t in ("match.proposed", "position.filled", "episode.published")
            if t in data.topics
        ]
        return Subscription(staff_id=data.staff_id, topics=topics, mode=data.mode)

    async def set_preferences(self, ctx: Any) -> Preferences:
        """`staff.preferences`: what is named changes, the rest stays."""
        data: SetPreferences = ctx.data
        doc = await self._staff_or_not_found(ctx.db, data.staff_id)
        before = await store.preferences_of(ctx.db, data.staff_id)
        prefs = preferences_changed(before, data)
        if doc.get("team") and any(mode == "off" for mode in prefs.kinds.values()):
            from diko_shared.messaging.errors import Invalid

            raise Invalid(
                "Die Team-Adresse bekommt, was sonst niemand bekommt; abschalten lässt sich "
                "dort nichts.",
                [
                    ErrorDetail(
                        field="data.kinds", problem="„off“ ist für die Team-Adresse nicht möglich"
                    )
                ],
            )
        ctx.write(store.set_preferences(data.staff_id, prefs, ctx.key, ctx.occurred_at))
        return as_payload(data.staff_id, prefs)

    async def list_deliveries(self, ctx: Any) -> DeliveryList:
        """`notification.deliveries`: the log, newest first."""
        found = await store.list_deliveries(ctx.db, ctx.data)
        return DeliveryList(deliveries=found, retention_days=self.retention.total_seconds() / 86400)

    async def _staff_or_not_found(
        self, db: AsyncDatabase, staff_id: str, field: str = "staff_id"
    ) -> dict[str, Any]:
        doc = await store.staff_doc(db, staff_id) if staff_id else None
        if doc is None:
            raise NotFound(
                "Diese Person ist nicht als Mitarbeiterin oder Mitarbeiter registriert.",
                [ErrorDetail(field=f"data.{field}", problem="unbekannt")],
            )
        return doc

    async def _staff_record(self, db: AsyncDatabase, doc: dict[str, Any]) -> StaffRecord:
        prefs = await store.preferences_of(db, doc["_id"])
        resp = doc.get("responsibilities") or {}
        return StaffRecord(
            staff_id=doc["_id"],
            name=doc["name"],
            email=doc["email"],
            role=doc.get("role"),
            active=bool(doc.get("active", True)),
            team=bool(doc.get("team", False)),
            undeliverable=await store.is_undeliverable(db, email_key(doc["email"])),
            responsibilities=Responsibilities(
                districts=list(resp.get("districts", [])),
                municipalities=list(resp.get("municipalities", [])),
                occupation_fields=list(resp.get("occupation_fields", [])),
            ),
            preferences=as_payload(doc["_id"], prefs),
        )

    # -- copies of companies and contact persons -----------------------------------------

    async def keep_company(self, ctx: Any) -> None:
        data: CompanyRegistered | CompanyUpdated = ctx.data
        ctx.write(store.keep_company(data.company_id, {"name": data.name, "town": data.town}))

    async def company_merged(self, ctx: Any) -> None:
        data: CompanyMerged = ctx.data
        await store.move_contacts(ctx.db, data.contact_ids, data.survivor_id)
        ctx.write(store.keep_company(data.merged_id, {"merged_into": data.survivor_id}))

    async def keep_contact(self, ctx: Any) -> None:
        data: ContactAdded | ContactUpdated = ctx.data
        if await is_erased(ctx.db, data.contact_id):
            return  # a replayed old event must not bring the erased person's copy back
        ctx.write(
            store.keep_contact(
                data.contact_id,
                {
                    "company_id": data.company_id,
                    "name": data.name,
                    "role": data.role,
                    "email": data.email,
                    "preferred_channel": data.preferred_channel,
                },
            )
        )
        if data.email and isinstance(data, ContactUpdated) and "email" in data.changed:
            await self.postman.undeliverable.lift(ctx.db, email_key(data.email))

    async def forget_contact(self, ctx: Any) -> None:
        data: ContactRemoved = ctx.data
        ctx.write(store.forget_contact(data.contact_id))

    async def consent_changed(self, ctx: Any) -> None:
        """A contact person's consent (the newsletter's decides optional mail to them)."""
        data: ConsentChanged = ctx.data
        if data.contact_id is not None:
            ctx.write(
                store.contact_consent(data.contact_id, data.purpose, data.status, data.declared_at)
            )

    # -- staff mail about events ---------------------------------------------------------

    async def notify(self, ctx: Any) -> None:
        """`match.proposed`, `position.filled`, `episode.published`, `fair.planned`,
        `consultation.follow_up_due`: to the staff it concerns, as each of them wants it.

        Every recipient is tried. If one is not finished (a temporary SMTP failure, or
        another handler is sending it right now) the message is retried as a whole, and the
        recipients finished before are not sent to again. If one still fails on its last
        retry, the event goes to the dead-letter queue instead of being acknowledged, so
        that `diko dlq replay notifications` sends it once the mail server is back.
        """
        event_type = ctx.spec.type
        data = ctx.data
        if isinstance(data, PositionFilled):
            await store.mark_position_filled(ctx.db, data.position_id, await self.clock.now())
        if isinstance(data, MatchProposed):
            data = await _without_erased(ctx.db, data)
            if not data.proposals:
                return
            linked_at = await self.clock.now()
            await store.remember_proposals(ctx.db, proposals.summaries(data), linked_at)
        items = await self._staff_items(ctx, event_type, data)
        outcomes = await self._to_staff(ctx, event_type, items)
        if isinstance(data, FairPlanned):
            fair = await self._fair(data.fair_id)
            if fair is not None:
                outcomes += await self.postman.deliver(ctx.db, await self._fair_mails(ctx, fair))
        await self._settle(ctx, outcomes)

    async def _staff_items(self, ctx: Any, event_type: str, data: Any) -> list[StaffItem]:
        """Who among the staff receives what of this event, fixed when it first arrives."""
        kind = KIND_OF[event_type]
        staff = await store.all_staff(ctx.db)
        by_id = {m.staff_id: m for m in staff}
        prefs = await store.all_preferences(ctx.db)
        bad = await self.postman.undeliverable.among(ctx.db, {email_key(m.email) for m in staff})
        team = by_id.get(self.team_id or "")

        def wants(member: StaffMember) -> bool:
            return prefs.get(member.staff_id, Prefs()).mode(kind) != "off" and (
                email_key(member.email) not in bad
            )

        parts: list[Any]
        if isinstance(data, MatchProposed):
            parts = list(data.proposals)
            wheres = [Where(p.position.town, p.position.occupation.code) for p in data.proposals]
        elif isinstance(data, PositionFilled):
            parts, wheres = [data], [Where(data.town, data.occupation.code)]
        elif isinstance(data, FairPlanned):
            parts, wheres = [data], [Where(data.venue.town if data.venue else None)]
        elif isinstance(data, FollowUpDue):
            parts = [data]
            recorder = by_id.get(data.staff_id)
            if recorder is not None and recorder.active and wants(recorder):
                wheres = []
                fixed = {data.staff_id: [0]}
            else:
                company = await store.company(ctx.db, data.company_id)
                wheres = [Where((company or {}).get("town"))]
        else:  # episode.published: whoever asked for it, wherever they work
            parts, wheres = [data], []
            fixed = {m.staff_id: [0] for m in staff if m.active and wants(m)}
        if wheres:
            fixed = recipients.assign(wheres, staff, wants, team)
        event = {
            "event_id": ctx.envelope.id,
            "event_source": ctx.envelope.source,
            "event_type": event_type,
            "at": ctx.occurred_at,
            # the service's clock, which the housekeeping compares (`at` is the producer's)
            "created_at": await self.clock.now(),
        }
        chosen = await store.fix_recipients(
            ctx.db,
            ctx.new_id("fan"),
            event,
            [{"staff_id": k, "items": v} for k, v in sorted(fixed.items())],
        )
        items: list[StaffItem] = []
        for entry in chosen:
            staff_id, indices = entry["staff_id"], entry["items"]
            member = by_id.get(staff_id)
            if member is None or not member.active:
                continue
            if isinstance(data, MatchProposed):
                payload = data.model_copy(update={"proposals": [parts[i] for i in indices]})
            else:
                payload = parts[0]
            items.append(StaffItem(member, payload, prefs.get(staff_id, Prefs())))
        return items

    async def _to_staff(
        self, ctx: Any, event_type: str, items: Sequence[StaffItem]
    ) -> list[Outcome]:
        """Send now what is to go now; queue for later what waits (quiet hours, the digest)."""
        kind = KIND_OF[event_type]
        now = await self.clock.now()
        about = _about(ctx)
        mails: list[Mail] = []
        waiting: list[dict[str, Any]] = []
        #: One due item per slot, staged after every queued mail of it: the run it starts
        #: reads the queue, so it must find all of them there (writes commit in this order).
        runs: dict[tuple[str, str], Write] = {}
        for item in items:
            member = item.member
            way = route(item.prefs, kind, now)
            if way.how == "off":
                continue
            recipient = member.as_recipient()
            mail = Mail(
                ctx.new_id("dlv", member.staff_id),
                recipient,
                letter_for(event_type, item.payload, recipient, self.links),
                about,
            )
            if way.how == "now":
                mails.append(mail)
                continue
            assert way.at is not None
            slot = (
                way.at.isoformat()
                if way.how == "hold"
                else f"{way.period}|{item.prefs.digest_hour:02d}"
            )
            extra = {"held_until": way.at} if way.how == "hold" else {"period": str(way.period)}
            waiting.append(
                record_of(
                    Mail(mail.delivery_id, recipient, mail.letter, about, extra),
                    "held" if way.how == "hold" else "digest",
                    now,
                )
            )
            ctx.write(
                store.queue(
                    {
                        "_id": mail.delivery_id,
                        "how": way.how,
                        "slot": slot,
                        "staff_id": member.staff_id,
                        "kind": kind,
                        "event": dict(about),
                        "data": item.payload.model_dump(mode="json"),
                        "queued_at": now,
                    }
                )
            )
            run = "release" if way.how == "hold" else "digest"
            if (run, slot) not in runs:
                runs[run, slot] = due.schedule(
                    run, slot, way.at, {"slot": slot}, correlation_id=ctx.correlation_id
                )
        ctx.write(runs.values())
        if waiting:
            await store.open_deliveries(ctx.db, waiting)
        return await self.postman.deliver(ctx.db, mails)

    # -- decisions, placements, withdrawals ----------------------------------------------

    async def record_decision(self, ctx: Any) -> None:
        """`match.accepted`, `match.declined`: what the proposal's action pages now say; an
        acceptance also schedules the placement mails (`placement`, due at once), which ask
        matching for the applicant and so must not hold up the decision's record.

        The decision's time is the event's: when matching took it.
        """
        data: MatchAccepted | MatchDeclined = ctx.data
        if await is_erased(ctx.db, data.applicant_id):
            return  # a replayed old decision: the applicant's proposals went with them
        status = "accepted" if ctx.spec.type == "match.accepted" else "declined"
        decision = DecisionRecord(status, data.decided_by, ctx.occurred_at)
        ctx.write(store.record_decision(data.proposal_id, decision, await self.clock.now()))
        if isinstance(data, MatchAccepted):
            ctx.write(
                due.schedule(
                    "placement",
                    data.proposal_id,
                    await self.clock.now(),
                    {"about": _about(ctx), "event": data.model_dump(mode="json")},
                    correlation_id=ctx.correlation_id,
                )
            )

    async def placement(self, ctx: Any) -> None:
        """Due `placement|<proposal>`: the company's contact person and the applicant hear
        who and what comes next (matching unreachable: tried again later)."""
        data = MatchAccepted.model_validate_json(json.dumps(ctx.data["event"]))
        about = dict(ctx.data["about"])
        about["at"] = (
            datetime.fromisoformat(about["at"]) if isinstance(about["at"], str) else about["at"]
        )
        mails = await self._placement(ctx, data, about)
        await self._settle(ctx, await self.postman.deliver(ctx.db, mails), hint=data.decided_by)

    async def withdraw(self, ctx: Any) -> None:
        """`match.withdrawn`: the proposal's links are revoked; its page says why."""
        data: MatchWithdrawn = ctx.data
        ctx.write(store.withdraw_proposal(data.proposal_id, data.text, await self.clock.now()))

    async def applicant_withdrawn(self, ctx: Any) -> None:
        """`applicant.withdrawn`: their open proposals' links are revoked (matching also
        sends `match.withdrawn` for each), and no more mail goes to them, not even a fair
        timetable that names their address."""
        data: ApplicantWithdrawn = ctx.data
        if await is_erased(ctx.db, data.applicant_id):
            return  # a replayed old withdrawal: nothing of the applicant is kept here
        text = WITHDRAWN_TEXT[data.reason]
        now = await self.clock.now()
        ctx.write(
            *[store.withdraw_proposal(p, text, now) for p in data.withdrawn_proposals],
            *await store.applicant_status(ctx.db, data.applicant_id, "withdrawn", ctx.occurred_at),
        )

    async def applicant_updated(self, ctx: Any) -> None:
        """`applicant.updated`: an applicant who withdrew and came back gets mail again."""
        data: ApplicantUpdated = ctx.data
        if await is_erased(ctx.db, data.applicant_id):
            return
        ctx.write(
            *await store.applicant_status(ctx.db, data.applicant_id, data.status, ctx.occurred_at)
        )

    async def _placement(self, ctx: Any, data: MatchAccepted, about: dict[str, Any]) -> list[Mail]:
        """The company's contact person and the applicant hear who and what comes next."""
        record = await store.find_proposal(ctx.db, data.proposal_id)
        summary = record.summary if record else None
        # the proposal's summary names the company; the copy only when it is gone
        company = {} if summary else await store.company(ctx.db, data.company_id) or {}
        contact = recipients.company_contact(await store.contacts_of(ctx.db, data.company_id))
        applicant = await self._applicant(data.applicant_id)
        staff = await store.staff_doc(ctx.db, data.decided_by) if data.decided_by else None
        staff = staff or (await store.staff_doc(ctx.db, self.team_id) if self.team_id else None)
        if applicant is None and summary is None:
            log.warning(
                "placement without applicant or proposal", extra={"proposal": data.proposal_id}
            )
            return []
        name = (
            summary.applicant if summary else f"{applicant['first_name']} {applicant['last_name']}"
        )
        placement = letters.Placement(
            company=(summary.company if summary else company.get("name")) or "Ihr Betrieb",
            town=(summary.town if summary else company.get("town")) or "",
            applicant=name,
            home_town=summary.home_town if summary else (applicant or {}).get("home_town"),
            occupation=summary.occupation if summary else None,
            start=datetime.fromisoformat(summary.start_date).date()
            if summary and summary.start_date
            else None,
            staff_name=staff["name"] if staff else "Das DIKO-Team",
            staff_email=staff["email"] if staff else "",
            decided_at=about["at"],
        )
        mails = []
        if contact is not None:
            mails.append(
                Mail(
                    ctx.new_id("dlv", contact.contact_id),
                    contact.as_recipient(),
                    letters.placement_company_letter(placement),
                    about,
                    # the subject names the applicant: their id finds it for an export or erasure
                    {"applicant_id": data.applicant_id},
                )
            )
        if applicant is not None and applicant_allows_mail(applicant):
            mails.append(
                Mail(
                    ctx.new_id("dlv", data.applicant_id),
                    Recipient(
                        data.applicant_id,
                        "applicant",
                        applicant["first_name"],
                        applicant["email"],
                        young=True,
                    ),
                    letters.placement_applicant_letter(placement, contact),
                    about,
                )
            )
        return mails

    async def _applicant(
        self, applicant_id: str, correlation: str | None = None
    ) -> dict[str, Any] | None:
        """The applicant's record, asked from matching (which owns it) at the moment of mailing:
        no event broadcasts an applicant's address. None if matching does not know them."""
        try:
            reply = await self.publisher.request(
                GetApplicant(applicant_id=applicant_id),
                subject=applicant_id,
                timeout=MATCHING_TIMEOUT_S,
            )
        except TimeoutError:
            raise TransientError("matching did not answer applicant.get in time") from None
        if reply.get("ok"):
            return dict(reply.get("data") or {})
        if (reply.get("error") or {}).get("code") == "not_found":
            return None
        raise TransientError(f"applicant.get failed: {reply.get('error')}")

    # -- fairs ---------------------------------------------------------------------------

    async def _fair(self, fair_id: str) -> Fair | None:
        """The planned fair with the applicants' names and addresses, asked from matching
        (which owns them) at the moment of mailing: `fair.planned` names no applicant.
        None if matching does not know the fair."""
        try:
            reply = await self.publisher.request(
                GetFair(fair_id=fair_id), subject=fair_id, timeout=MATCHING_TIMEOUT_S
            )
        except TimeoutError:
            raise TransientError("matching did not answer fair.get in time") from None
        if reply.get("ok"):
            return Fair.model_validate(reply.get("data") or {}, strict=False)
        if (reply.get("error") or {}).get("code") == "not_found":
            log.warning(
                "fair.planned for a fair matching does not know", extra={"fair_id": fair_id}
            )
            return None
        raise TransientError(f"fair.get failed: {reply.get('error')}")

    async def _fair_mails(self, ctx: Any, fair: Fair) -> list[Mail]:
        """Each company's contact person and each applicant with an address: their timetable."""
        about = _about(ctx)
        now = await self.clock.now()
        mails: list[Mail] = []
        facts = letters.fair_facts(fair)
        for company in fair.companies:
            if company.company_id is None:
                continue
            contact = recipients.company_contact(
                await store.contacts_of(ctx.db, company.company_id)
            )
            rows = letters.company_rows(fair, company.ref)
            if contact is None or not rows or fair.date is None:
                continue
            calendar = timetable(
                fair_id=fair.fair_id,
                person=contact.contact_id,
                title=fair.title,
                day=fair.date,
                location=facts["venue"],
                rows=rows,
                stamp=now,
            )
            mails.append(
                Mail(
                    ctx.new_id("dlv", contact.contact_id),
                    contact.as_recipient(),
                    letters.fair_person_letter(
                        fair, rows, young=False, company=company.name, calendar=calendar
                    ),
                    about,
                )
            )
        withdrawn = await store.withdrawn_applicants(
            ctx.db, [a.applicant_id for a in fair.applicants if a.applicant_id]
        )
        for applicant in fair.applicants:
            rows = letters.applicant_rows(fair, applicant.ref)
            if not applicant.email or not rows or fair.date is None:
                continue
            if applicant.applicant_id in withdrawn or (
                applicant.applicant_id and await is_erased(ctx.db, applicant.applicant_id)
            ):
                continue
            key = applicant.applicant_id or address_key(applicant.email)
            calendar = timetable(
                fair_id=fair.fair_id,
                person=key,
                title=fair.title,
                day=fair.date,
                location=facts["venue"],
                rows=rows,
                stamp=now,
            )
            first = applicant.name.split()[0]
            recipient = Recipient(
                key,
                "applicant" if applicant.applicant_id else "address",
                first,
                applicant.email,
                young=True,
            )
            mails.append(
                Mail(
                    ctx.new_id("dlv", key),
                    recipient,
                    letters.fair_person_letter(
                        fair, rows, young=True, company="", calendar=calendar
                    ),
                    about,
                )
            )
        return mails

    # -- notices ---------------------------------------------------------------------------

    async def send_notice(self, ctx: Any) -> NotificationAccepted:
        """`notification.send`: one notice per sender and idempotency key, whatever repeats."""
        data: SendNotification = ctx.data
        key = f"{ctx.envelope.source}|{data.idempotency_key}"
        notification_id = derived("ntf", "notice", key)
        delivery_id = derived("dlv", "notice", key)
        first = await store.claim_notice(ctx.db, key, notification_id)
        # The delivery is opened after the claim: a first claim has none to find.
        existing = None if first else await store.find_delivery(ctx.db, delivery_id)
        if (
            existing is not None
            and existing["status"] not in ("pending",)
            and not store.fate_of(existing).exhausted
        ):
            await self._announce_again(ctx, existing)
            return NotificationAccepted(
                notification_id=notification_id,
                delivery_id=delivery_id,
                status=existing["status"],
                duplicate=True,
                error=existing.get("error"),
            )
        recipient = await self._notice_recipient(ctx, data)
        if recipient is None:
            return NotificationAccepted(
                notification_id=notification_id,
                status="no_address",
                duplicate=False,
                error="Für diese Person ist keine E-Mail-Adresse bekannt, die E-Mails möchte.",
            )
        about = {**_about(ctx), "event_id": notification_id}
        letter = letters.notice_letter(data)
        mail = Mail(delivery_id, recipient, letter, about)
        if not data.transactional and not await self._optional_allowed(ctx.db, recipient):
            suppressed = record_of(mail, "suppressed", await self.clock.now())
            await store.open_deliveries(ctx.db, [suppressed])
            return NotificationAccepted(
                notification_id=notification_id,
                delivery_id=delivery_id,
                status="suppressed",
                duplicate=False,
                error="Die Person hat solche Nachrichten abbestellt.",
            )
        if recipient.kind == "staff":
            member = StaffMember(recipient.key, recipient.name, recipient.email)
            standing = await self._to_staff_notice(
                ctx, member, data, mail, transactional=data.transactional
            )
        else:
            standing = await self.postman.deliver(ctx.db, [mail])
        if isinstance(standing, dict):  # held, in a digest or off: opened, not sent
            status, error = standing["status"], standing.get("error")
        else:
            await self._settle(ctx, standing)
            # Settled: the attempt's fate is what its record now says.
            [outcome] = standing
            assert outcome.fate is not None
            status, error = outcome.fate.status, outcome.fate.error
        return NotificationAccepted(
            notification_id=notification_id,
            delivery_id=delivery_id,
            status=status,
            duplicate=existing is not None,
            error=error,
        )

    async def _announce_again(self, ctx: Any, record: dict[str, Any]) -> None:
        """A notice already finished, asked again (its own retry, or a repeat of the key):
        its outcome announced again under the delivery's id (the same event, in case the
        attempt that finished it lost its announcement), and if it was refused for good,
        the refusal's report sent if it is not yet (see `_to_report`)."""
        fate = store.fate_of(record)
        recipient = await self._bounced_recipient(ctx.db, record["email"], record)
        about = {k: record.get(k) for k in ("event_id", "event_source", "event_type", "at")}
        letter = Letter(template="notice", subject=record["subject"], values={}, kind="notice")
        mail = Mail(record["_id"], recipient, letter, about)
        if fate.status in ("sent", "failed"):
            self._announce_done(ctx, Outcome(mail, fate))
        if fate.status != "failed" or not fate.permanent:
            return
        mark = await store.address_mark(ctx.db, email_key(record["email"]))
        if mark is None or mark.get("delivery_id") != record["_id"]:
            return
        mails = await self._mark_and_tell(ctx, recipient, fate.error or "", record["_id"], None)
        await self._settle(ctx, await self.postman.deliver(ctx.db, mails))

    async def _to_staff_notice(
        self,
        ctx: Any,
        member: StaffMember,
        data: SendNotification,
        mail: Mail,
        *,
        transactional: bool,
    ) -> list[Outcome] | dict[str, Any]:
        """The outcome of sending it now, or the delivery's record as opened (held, for a
        digest, or suppressed)."""
        prefs = await store.preferences_of(ctx.db, member.staff_id)
        now = await self.clock.now()
        way = route(prefs, "notice", now, transactional=transactional)
        if way.how == "now":
            return await self.postman.deliver(ctx.db, [mail])
        if way.how == "off":
            return await store.open_delivery(ctx.db, record_of(mail, "suppressed", now))
        assert way.at is not None
        slot = way.at.isoformat() if way.how == "hold" else f"{way.period}|{prefs.digest_hour:02d}"
        extra = {"held_until": way.at} if way.how == "hold" else {"period": str(way.period)}
        opened = await store.open_delivery(
            ctx.db,
            record_of(
                Mail(mail.delivery_id, mail.recipient, mail.letter, mail.about, extra),
                "held" if way.how == "hold" else "digest",
                now,
            ),
        )
        ctx.write(
            store.queue(
                {
                    "_id": mail.delivery_id,
                    "how": way.how,
                    "slot": slot,
                    "staff_id": member.staff_id,
                    "kind": "notice",
                    "event": dict(mail.about),
                    "event_type": "notification.send",
                    "data": data.model_dump(mode="json"),
                    "queued_at": now,
                }
            ),
            due.schedule(
                "release" if way.how == "hold" else "digest", slot, way.at, {"slot": slot}
            ),
        )
        return opened

    async def _notice_recipient(self, ctx: Any, data: SendNotification) -> Recipient | None:
        """Whom the notice goes to; None if they want no mail. Contact persons and companies
        come from companies' events, applicants from matching: one not known yet may be on
        its way (`NotYetKnown`). Staff members are this service's own."""
        to = data.to
        if to.staff_id:
            doc = await store.staff_doc(ctx.db, to.staff_id)
            if doc is None:
                raise NotFound(
                    "Diese Person ist nicht als Mitarbeiterin oder Mitarbeiter registriert.",
                    [ErrorDetail(field="data.to.staff_id", problem="unbekannt")],
                )
            return (
                Recipient(doc["_id"], "staff", doc["name"], doc["email"])
                if doc.get("active", True)
                else None
            )
        if to.contact_id:
            contact = await store.contact(ctx.db, to.contact_id)
            if contact is None:
                raise NotYetKnown(
                    "Diese Ansprechperson ist nicht bekannt.",
                    [ErrorDetail(field="data.to.contact_id", problem="unbekannt")],
                )
            return contact.as_recipient() if contact.writable else None
        if to.company_id:
            contacts = await store.contacts_of(ctx.db, to.company_id)
            if not contacts:
                raise NotYetKnown(
                    "Für diesen Betrieb ist keine Ansprechperson bekannt.",
                    [ErrorDetail(field="data.to.company_id", problem="keine Ansprechperson")],
                )
            chosen = recipients.company_contact(contacts)
            return chosen.as_recipient() if chosen else None
        if to.applicant_id:
            applicant = await self._applicant(to.applicant_id)
            if applicant is None:
                raise NotYetKnown(
                    "Diese Bewerberin oder dieser Bewerber ist nicht bekannt.",
                    [ErrorDetail(field="data.to.applicant_id", problem="unbekannt")],
                )
            if not applicant_allows_mail(applicant):
                return None
            return Recipient(
                to.applicant_id,
                "applicant",
                applicant["first_name"],
                applicant["email"],
                young=True,
            )
        assert to.email is not None
        return Recipient(address_key(to.email), "address", to.name or "", to.email.strip())

    async def _optional_allowed(self, db: AsyncDatabase, recipient: Recipient) -> bool:
        """Optional mail: a contact person needs their newsletter consent, anyone else must
        not have unsubscribed."""
        if recipient.kind == "contact":
            contact = await store.contact(db, recipient.key)
            return (
                contact is not None
                and contact.allows(transactional=False)
                and not await store.opted_out(db, recipient.key)
            )
        return not await store.opted_out(db, recipient.key)

    # -- outcomes and bounces ------------------------------------------------------------

    async def _settle(
        self,
        ctx: Any,
        outcomes: Sequence[Outcome],
        hint: str | None = None,
        *,
        busy_elsewhere_ok: bool = False,
    ) -> None:
        """Announce what is done, tell staff about refused addresses, and retry what is not
        done (a report of a refused address too, until it is sent).

        `busy_elsewhere_ok`: a delivery another process holds the lease of is not a failure
        (a due run reschedules itself for when that lease ends instead).
        """
        unfinished: list[str] = []
        exhausted: dict[str, Fate] = {}
        for outcome in outcomes:
            fate = outcome.fate
            key = outcome.mail.recipient.key
            if fate is not None and fate.exhausted:
                await self._publish_failed(ctx, outcome)
                exhausted[key] = fate
            elif fate is not None and fate.final:
                self._announce_done(ctx, outcome)
            elif fate is None and busy_elsewhere_ok:
                continue
            elif fate is None or not fate.waiting:
                unfinished.append(f"{key}: {fate.error if fate else 'being sent elsewhere'}")
        bounce_mails: list[Mail] = []
        for outcome in outcomes:
            if outcome.mail.letter.kind != "bounce" and await self._to_report(ctx.db, outcome):
                bounce_mails += await self._bounced(ctx, outcome, hint)
        for extra in await self.postman.deliver(ctx.db, bounce_mails):
            fate = extra.fate
            key = f"{extra.mail.recipient.key} (report of a refused address)"
            if fate is not None and fate.exhausted:
                await self._publish_failed(ctx, extra)
                exhausted[key] = fate
            elif fate is not None and fate.final:
                self._announce_done(ctx, extra)
            else:
                unfinished.append(f"{key}: {fate.error if fate else 'being sent elsewhere'}")
        if exhausted:
            raise delivery.undelivered(
                {k: f.error or "?" for k, f in exhausted.items()}, unfinished
            )
        if unfinished:
            raise TransientError(
                f"{len(unfinished)} e-mail(s) not delivered yet: {'; '.join(unfinished)}"
            )

    async def _to_report(self, db: AsyncDatabase, outcome: Outcome) -> bool:
        """Whether the outcome is a refusal to report: refused just now, or refused by an
        earlier attempt at this message whose report may not be sent yet (it failed for
        now, or the process died first). The address's mark names the delivery that began
        it, and the report's id derives from the mark: asked again, it is the same report,
        sent once. A mark begun by another delivery was reported there."""
        if outcome.bounced:
            return True
        fate = outcome.fate
        if fate is None or fate.status != "failed" or not fate.permanent:
            return False
        mark = await store.address_mark(db, email_key(outcome.mail.recipient.email))
        return mark is not None and mark.get("delivery_id") == outcome.mail.delivery_id

    async def _bounced(self, ctx: Any, outcome: Outcome, hint: str | None) -> list[Mail]:
        """A permanent refusal marks the address undeliverable and tells whoever is
        responsible for the person, once per address."""
        error = outcome.fate.error if outcome.fate else ""
        return await self._mark_and_tell(
            ctx, outcome.mail.recipient, error or "", outcome.mail.delivery_id, hint
        )

    async def _mark_and_tell(
        self, ctx: Any, bounced: Recipient, error: str, delivery_id: str, hint: str | None
    ) -> list[Mail]:
        """The address is marked undeliverable (the first mark stands); the mails that tell
        the responsible staff, under ids derived from the address and the mark, so once."""
        marked = await self.postman.undeliverable.mark(
            ctx.db, email_key(bounced.email), error, datetime.now(UTC), delivery_id
        )
        staff = await store.all_staff(ctx.db)
        by_id = {m.staff_id: m for m in staff}
        team = by_id.get(self.team_id or "")
        about = "diese Person"
        told: list[StaffMember] = []
        if bounced.kind == "contact":
            contact = await store.contact(ctx.db, bounced.key)
            company = await store.company(ctx.db, contact.company_id) if contact else None
            about = (company or {}).get("name") or "diesen Betrieb"
            told = recipients.responsible(staff, Where((company or {}).get("town")))
        elif bounced.kind == "applicant" and hint and hint in by_id:
            told = [by_id[hint]]
            about = "diese Vermittlung"
        elif bounced.kind == "staff":
            about = "das Team"
        if not told and team is not None and team.staff_id != bounced.key:
            told = [team]
        since = (marked.get("since") or datetime.now(UTC)).astimezone(UTC)
        letter = letters.bounce_letter(bounced, about, marked.get("error") or error or "", since)
        return [
            Mail(
                derived(
                    "dlv", "bounce", email_key(bounced.email), since.isoformat(), member.staff_id
                ),
                member.as_recipient(),
                letter,
                {**_about(ctx), "event_type": "bounce"},
            )
            for member in told
            if member.staff_id != bounced.key
        ]

    async def record_bounce(self, ctx: Any) -> BounceRecorded:
        """`notification.record_bounce`: a bounce the relay sent after it took a mail.

        Permanent (5.x.x): the address is marked undeliverable, the delivery it names
        becomes `bounced` (announced once as `notification.failed`), and the responsible
        staff member is told once per address. Temporary (4.x.x): the relay still tries;
        the delivery log notes it and nothing stops. A repeat changes nothing further.
        """
        found: list[BounceOutcome] = []
        told_mails: list[Mail] = []
        for bounce in bounces.read(ctx.data):
            record = await store.find_delivery(ctx.db, bounce.delivery_id or "")
            if record is not None and email_key(record["email"]) != email_key(bounce.email):
                record = None  # the id names a mail to someone else: the address decides
            delivery_id = record["_id"] if record else None
            if not bounce.permanent:
                if delivery_id:
                    await store.note_bounce(ctx.db, delivery_id, bounce.error)
                found.append(
                    BounceOutcome(
                        email=bounce.email,
                        status=bounce.status,
                        permanent=False,
                        delivery_id=delivery_id,
                        undeliverable=await store.is_undeliverable(ctx.db, email_key(bounce.email)),
                    )
                )
                continue
            recipient = await self._bounced_recipient(ctx.db, bounce.email, record)
            if delivery_id and await store.bounce_delivery(
                ctx.db, delivery_id, bounce.error, datetime.now(UTC)
            ):
                ctx.emit(
                    NotificationFailed(
                        delivery_id=delivery_id,
                        staff_id=record.get("staff_id") if record else None,
                        recipient_kind=recipient.kind,
                        recipient_id=recipient.key,
                        event_id=str((record or {}).get("event_id")),
                        event_type=str((record or {}).get("event_type")),
                        error=bounce.error,
                        permanent=True,
                        undeliverable=True,
                    ),
                    subject=delivery_id,
                )
            mails = await self._mark_and_tell(
                ctx, recipient, bounce.error, delivery_id or "", (record or {}).get("decided_by")
            )
            told_before = {
                d["_id"]
                for d in await store.find_deliveries(ctx.db, [m.delivery_id for m in mails])
            }
            told_mails += mails
            found.append(
                BounceOutcome(
                    email=bounce.email,
                    status=bounce.status,
                    permanent=True,
                    delivery_id=delivery_id,
                    undeliverable=True,
                    staff_told=[m.recipient.key for m in mails if m.delivery_id not in told_before],
                )
            )
        for outcome in await self.postman.deliver(ctx.db, told_mails):
            if outcome.fate is not None and outcome.fate.final:
                self._announce_done(ctx, outcome)
        return BounceRecorded(bounces=found)

    async def _bounced_recipient(
        self, db: AsyncDatabase, email: str, record: dict[str, Any] | None
    ) -> Recipient:
        """Who the bounced address belongs to: the delivery's recipient, else a staff
        member with that address, else a bare address."""
        if record is not None:
            kind, key = record.get("recipient_kind", "staff"), record.get("recipient_id")
            name = ""
            if kind == "staff":
                doc = await store.staff_doc(db, key or "")
                name = doc["name"] if doc else ""
            elif kind == "contact":
                contact = await store.contact(db, key or "")
                name = contact.name if contact else ""
            return Recipient(key or address_key(email), kind, name, email)
        staff_id = await store.staff_by_email(db, email)
        doc = await store.staff_doc(db, staff_id) if staff_id else None
        if doc is not None:
            return Recipient(doc["_id"], "staff", doc["name"], doc["email"])
        return Recipient(address_key(email), "address", "", email)

    def _announce_done(self, ctx: Any, outcome: Outcome) -> None:
        """Stage the announcement of a finished delivery, published through the outbox with
        the message's work. Its id is the message's (`ctx.emit`), except for a notice and a
        report of a refused address, whose delivery ids do not come from the message (a
        notice's from its sender's key, a report's from the address's mark): several
        messages may find one of those finished (a repeat of the key; a notice and a
        placement refused at the same time; a retry after the attempt that staged the
        first announcement died before its commit), and each stages it under an id of the
        delivery's, so that it is one event however many publish it (copies of one id,
        which every consumer takes once)."""
        if outcome.mail.letter.kind not in ANNOUNCED_BY_DELIVERY:
            self._announce(ctx, outcome)
            return
        fate = outcome.fate
        assert fate is not None
        mail = outcome.mail
        if fate.status == "sent":
            payload: NotificationSent | NotificationFailed = NotificationSent(
                **_who(mail), subject=mail.letter.subject
            )
        else:
            unbuilt = (fate.error or "").startswith("the e-mail could not be built")
            payload = _failed(mail, fate, fate.permanent and not unbuilt)
        envelope = new_envelope(
            "notification.sent" if fate.status == "sent" else "notification.failed",
            payload,
            source="notifications",
            subject=mail.delivery_id,
            correlationid=ctx.correlation_id,
            id_=derived_uuid(f"{mail.delivery_id}|{fate.status}"),
        )
        # `ctx.emit` derives the id from the message; the outbox publishes any envelope
        # staged in `ctx.outgoing` (a message's and a due item's context alike)
        ctx.outgoing.append(Outgoing.from_envelope(topology.EVENTS.name, envelope))

    def _announce(self, ctx: Any, outcome: Outcome) -> None:
        """Stage `notification.sent` or `notification.failed` for a finished delivery."""
        fate = outcome.fate
        assert fate is not None
        mail = outcome.mail
        if fate.status == "sent":
            sent = NotificationSent(**_who(mail), subject=mail.letter.subject)
            ctx.emit(sent, subject=mail.delivery_id)
        elif fate.status == "failed":
            ctx.emit(
                _failed(
                    mail, fate, outcome.bounced or fate.error == "die Adresse ist unzustellbar"
                ),
                subject=mail.delivery_id,
            )

    async def _publish_failed(self, ctx: Any, outcome: Outcome) -> None:
        """Publish `notification.failed` for a delivery whose event goes to the dead letters.

        At once rather than staged: the platform drops what a handler staged when it raises.
        The delivery is recorded first; the id comes from the delivery and its attempts, so
        a repeat of this announcement is dropped and the next round's failure is news.
        """
        fate = outcome.fate
        assert fate is not None
        envelope = new_envelope(
            "notification.failed",
            _failed(outcome.mail, fate, False),
            source="notifications",
            subject=outcome.mail.delivery_id,
            correlationid=ctx.correlation_id,
            id_=derived_uuid(f"{outcome.mail.delivery_id}|failed|{fate.attempts}"),
        )
        await self.publisher.publish(Outgoing.from_envelope(topology.EVENTS.name, envelope))


async def _without_erased(db: AsyncDatabase, event: MatchProposed) -> MatchProposed:
    """The proposals of applicants not erased here: a replayed old event names no one erased."""
    kept = [p for p in event.proposals if not await is_erased(db, p.applicant.applicant_id)]
    if len(kept) == len(event.proposals):
        return event
    return event.model_copy(update={"proposals": kept})


def _about(ctx: Any) -> dict[str, Any]:
    """What the delivery log says a mail is about: the message that caused it."""
    envelope = getattr(ctx, "envelope", None)
    if envelope is not None:
        return {
            "event_id": envelope.id,
            "event_source": envelope.source,
            "event_type": ctx.spec.type,
            "at": ctx.occurred_at,
        }
    return {
        "event_id": ctx.id,
        "event_source": "notifications",
        "event_type": ctx.kind,
        "at": ctx.now,
    }


def _who(mail: Mail) -> dict[str, Any]:
    recipient = mail.recipient
    return {
        "delivery_id": mail.delivery_id,
        "staff_id": recipient.staff_id,
        "recipient_kind": recipient.kind,
        "recipient_id": recipient.key,
        "event_id": str(mail.about.get("event_id")),
        "event_type": str(mail.about.get("event_type")),
    }


def _failed(mail: Mail, fate: Fate, undeliverable: bool) -> NotificationFailed:
    return NotificationFailed(
        **_who(mail),
        error=fate.error or "unbekannt",
        permanent=fate.permanent,
        undeliverable=undeliverable,
    )


def applicant_allows_mail(applicant: dict[str, Any]) -> bool:
    """Whether the applicant's record allows mail: an address, not withdrawn, not a minor
    without a guardian's consent (`minors`), and (once matching carries it)
    `contact_by_email` not false."""
    return (
        bool(applicant.get("email"))
        and applicant.get("status") != "withdrawn"
        and not minors.minor_without_consent(applicant)
        and applicant.get("contact_by_email", True) is not False
    )


async def adopt_subscriptions(db: AsyncDatabase, at: datetime) -> None:
    """`store.adopt_subscriptions`, logged when it found any."""
    if adopted := await store.adopt_subscriptions(db, at):
        log.info("subscriptions of release 1.1 adopted as preferences", extra={"staff": adopted})


def preferences_from_subscription(data: Subscribe, before: Prefs) -> Prefs:
    from diko_notifications.preferences import from_subscription

    return from_subscription(list(data.topics), data.mode, before)


def preferences_changed(before: Prefs, data: SetPreferences) -> Prefs:
    from diko_notifications.preferences import changed

    return changed(
        before,
        {setting.kind: setting.mode for setting in data.kinds},
        data.digest_hour,
        data.quiet_hours,
        data.weekends,
        "quiet_hours" in data.clear,
    )


__all__ = ["Conflict", "ContactCopy", "Handlers", "Staff"]
