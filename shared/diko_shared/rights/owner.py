"""The owner of a kind of person: takes its export and erasure, collects the others' parts.

- `<kind>.export` (a query that records its request): the owner's own part at once, the
  request to the others (`<kind>.export_requested`), the document in `rights_exports`
  with each part as it arrives (`<service>.person_exported`), and two signed links that
  work until `expires_at` (a due item deletes the document then): `/rights/exports/<id>`
  (the German summary) and `/rights/exports/<id>.json` (the document, Art. 20).
- `<kind>.erase`: one erasure per person (`ers_` + a hash of the id). The owner erases its
  own records, keeps a tombstone, emits `<kind>.erased`, and keeps the proof in
  `rights_erasures`: its own confirmation and each other service's
  (`<service>.person_erased`) with when and what it removed. The answer is the proof as
  it stands; asking again answers with the newer one.

The links are signed with HMAC-SHA-256 under a secret the service keeps in its own
database (`rights_secret`, made by the first replica that needs it, shared by all).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from diko_shared import due
from diko_shared.contract.rights import (
    OWNERS,
    PREFIXES,
    REQUESTS,
    SERVICES,
    Confirmation,
    ErasureProof,
    ExportReceipt,
    Person,
    PersonErasedBy,
    PersonExported,
)
from diko_shared.messaging.errors import NotFound
from diko_shared.messaging.handling import Context
from diko_shared.rights import summary
from diko_shared.rights.participant import ERASED, Rights

EXPORTS = "rights_exports"
#: Each service's part of an export, one document each (`<export id>|<service>`): FerretDB
#: loses one of two concurrent updates of one document, and the parts arrive together.
PARTS = "rights_export_parts"
ERASURES = "rights_erasures"
#: Each service's confirmation of an erasure (`<erasure id>|<service>`), for the same reason.
CONFIRMATIONS = "rights_confirmations"
SECRET = "rights_secret"
EXPIRY = "rights_export_expiry"


@dataclass(frozen=True)
class Facts:
    """What the owner knows about a person that the others need, or that finds copies.

    `related_ids` go to the other services (ids only); `needles` (name, e-mail) are used
    only here, to find the owner's own copies in its outbox and processed replies.
    """

    related_ids: list[str] = field(default_factory=list)
    needles: list[str] = field(default_factory=list)


FactsReader = Callable[[AsyncDatabase, str], Awaitable[Facts | None]]
#: The owner's own steps around its erasure (matching withdraws open proposals before, and
#: tells its read model after): called with the message's context, the person, related ids.
EraseStep = Callable[[Any, Person, Sequence[str]], Awaitable[None]]

_WHO = {"applicant": "Bewerber/in", "contact": "Ansprechperson", "staff": "Mitarbeiter/in"}


def erasure_id(person_id: str) -> str:
    """One erasure per person: the id derives from the person's."""
    return "ers_" + hashlib.sha256(f"erasure|{person_id}".encode()).hexdigest()[:20]


@dataclass
class Owner:
    """The export and erasure of one kind of person, owned by `rights.service`."""

    rights: Rights
    kind: str
    facts: FactsReader
    base_url: Callable[[], str]
    before_erase: EraseStep | None = None
    after_erase: EraseStep | None = None
    export_days: int = 7

    def __post_init__(self) -> None:
        if OWNERS[self.kind] != self.rights.service:
            raise ValueError(f"{self.rights.service} does not own {self.kind}")

    @property
    def others(self) -> list[str]:
        return [s for s in SERVICES if s != self.rights.service]

    def person(self, payload: Any) -> Person:
        return Person(kind=self.kind, person_id=getattr(payload, f"{self.kind}_id"))  # type: ignore[arg-type]

    async def _facts(self, db: AsyncDatabase, person_id: str) -> Facts:
        facts = await self.facts(db, person_id)
        if facts is not None:
            return facts
        if await db[ERASED].find_one({"_id": person_id}, {"_id": 1}) is not None:
            raise NotFound(f"{_WHO[self.kind]} {person_id} wurde gelöscht")
        raise NotFound(f"{_WHO[self.kind]} {person_id} ist nicht bekannt")

    # -- export ------------------------------------------------------------------------------

    async def export(self, ctx: Context[Any]) -> ExportReceipt:
        """`<kind>.export`: the owner's part now, the others' by event, a signed link."""
        person = self.person(ctx.data)
        facts = await self._facts(ctx.db, person.person_id)
        export_id = ctx.new_id("exp")
        requested_at = ctx.occurred_at
        expires_at = requested_at + timedelta(days=self.export_days)
        own = await self.rights.part(ctx.db, person, facts.related_ids)
        document = {
            "_id": export_id,
            "person": person.model_dump(),
            "requested_at": requested_at,
            "expires_at": expires_at,
        }
        part = {
            "at": requested_at,
            "collections": [
                {"collection": n, "purpose": self.rights.purpose(n), "records": r}
                for n, r in own.collections.items()
            ],
            "elsewhere": own.elsewhere,
        }
        await _keep(ctx.db, PARTS, f"{export_id}|{self.rights.service}", part)
        try:
            await ctx.db[EXPORTS].insert_one(document)
        except DuplicateKeyError:  # a redelivery: the document is there
            document = await ctx.db[EXPORTS].find_one({"_id": export_id}) or document
        _, _, requested, _ = REQUESTS[self.kind]
        ctx.emit(
            requested(export_id=export_id, person=person, related_ids=facts.related_ids),
            subject=person.person_id,
        )
        ctx.write(
            due.schedule(
                EXPIRY,
                export_id,
                expires_at,
                {"export_id": export_id},
                correlation_id=ctx.correlation_id,
            )
        )
        return await self.receipt(ctx.db, document)

    async def receipt(self, db: AsyncDatabase, document: dict[str, Any]) -> ExportReceipt:
        export_id = document["_id"]
        token = await self.token(db, export_id, document["expires_at"])
        base = f"{self.base_url().rstrip('/')}/rights/exports/{export_id}"
        contributed = sorted(await _by_service(db, PARTS, export_id))
        return ExportReceipt(
            export_id=export_id,
            person=Person.model_validate(document["person"]),
            requested_at=document["requested_at"],
            expires_at=document["expires_at"],
            html_url=f"{base}?token={token}",
            json_url=f"{base}.json?token={token}",
            contributed=contributed,  # type: ignore[arg-type]
            outstanding=[s for s in SERVICES if s not in contributed],  # type: ignore[misc]
        )

    async def contributed(self, ctx: Context[PersonExported]) -> None:
        """`<service>.person_exported`: a part arrives; an expired export has gone."""
        data = ctx.data
        if data.person.kind != self.kind:
            return
        if await ctx.db[EXPORTS].find_one({"_id": data.export_id}, {"_id": 1}) is None:
            return  # expired, or the person was erased meanwhile
        part = {
            "at": ctx.occurred_at,
            "collections": [c.model_dump() for c in data.collections],
            "elsewhere": data.elsewhere,
        }
        await _keep(ctx.db, PARTS, f"{data.export_id}|{data.service}", part)

    async def expire(self, ctx: due.DueContext) -> None:
        """The export's links end: the document and its parts are deleted."""
        await _forget_export(ctx.db, ctx.data["export_id"])

    # -- erasure -----------------------------------------------------------------------------

    async def erase(self, ctx: Context[Any]) -> ErasureProof:
        """`<kind>.erase`: erase here, ask the others, answer with the proof so far."""
        return await self.erase_person(ctx, self.person(ctx.data), ctx.data.reason, ctx.occurred_at)

    async def erase_person(
        self,
        ctx: Context[Any] | due.DueContext,
        person: Person,
        reason: str | None,
        at: datetime,
    ) -> ErasureProof:
        """Erase here, ask the others; from a request, or from retention's due item."""
        ers = erasure_id(person.person_id)
        proof = await ctx.db[ERASURES].find_one({"_id": ers})
        own = self.rights.service
        if proof is not None and own in await _by_service(ctx.db, CONFIRMATIONS, ers):
            return await self.proof(ctx.db, proof)
        if proof is None:
            facts = await self._facts(ctx.db, person.person_id)
            proof = {
                "_id": ers,
                "person": person.model_dump(),
                "requested_at": at,
                "reason": reason,
                "related_ids": facts.related_ids,
            }
            try:
                await ctx.db[ERASURES].insert_one(proof)
            except DuplicateKeyError:
                proof = await ctx.db[ERASURES].find_one({"_id": ers}) or proof
            needles = facts.needles
        else:  # an earlier attempt stopped half-way: the person may be half gone
            facts = await self.facts(ctx.db, person.person_id)
            needles = facts.needles if facts is not None else []
        related = proof["related_ids"]
        if self.before_erase is not None:
            await self.before_erase(ctx, person, related)
        tombstone = await self.rights.erase(
            ctx.db, person, related, ers, proof["requested_at"], extra_needles=needles
        )
        if self.after_erase is not None:
            await self.after_erase(ctx, person, related)
        # an export made before holds everything: it goes with the person
        async for export in ctx.db[EXPORTS].find({"person.person_id": person.person_id}):
            await _forget_export(ctx.db, export["_id"])
        confirmation = {
            "service": own,
            "erased_at": tombstone["erased_at"],
            "removed": tombstone["removed"],
            "kept": tombstone["kept"],
        }
        await _keep(ctx.db, CONFIRMATIONS, f"{ers}|{own}", confirmation)
        _, _, _, erased = REQUESTS[self.kind]
        ctx.emit(
            erased(erasure_id=ers, person=person, related_ids=related, erased_at=at),
            subject=person.person_id,
        )
        return await self.proof(ctx.db, proof)

    async def proof(self, db: AsyncDatabase, document: dict[str, Any]) -> ErasureProof:
        stored = await _by_service(db, CONFIRMATIONS, document["_id"])
        confirmations = [Confirmation.from_stored(c) for _, c in sorted(stored.items())]
        confirmed = {c.service for c in confirmations}
        outstanding = [s for s in SERVICES if s not in confirmed]
        return ErasureProof(
            erasure_id=document["_id"],
            person=Person.model_validate(document["person"]),
            requested_at=document["requested_at"],
            reason=document.get("reason"),
            confirmations=confirmations,
            outstanding=outstanding,  # type: ignore[arg-type]
            complete=not outstanding,
        )

    async def confirmed(self, ctx: Context[PersonErasedBy]) -> None:
        """`<service>.person_erased`: one more confirmation for the proof."""
        data = ctx.data
        if data.person.kind != self.kind:
            return
        confirmation = {
            "service": data.service,
            "erased_at": data.erased_at,
            "removed": data.removed,
            "kept": data.kept,
        }
        if await ctx.db[ERASURES].find_one({"_id": data.erasure_id}, {"_id": 1}) is not None:
            await _keep(ctx.db, CONFIRMATIONS, f"{data.erasure_id}|{data.service}", confirmation)

    # -- signed links ------------------------------------------------------------------------

    async def token(self, db: AsyncDatabase, export_id: str, expires_at: datetime) -> str:
        secret = await link_secret(db)
        message = f"{export_id}|{int(expires_at.timestamp())}".encode()
        return hmac.new(secret, message, hashlib.sha256).hexdigest()

    def routes(
        self, db: Callable[[], AsyncDatabase], now: Callable[[], Awaitable[datetime]]
    ) -> list[Route]:
        """`/rights/exports/<id>` (HTML) and `.json`, for whoever holds the signed link."""

        async def load(request: Request) -> dict[str, Any] | None:
            export_id = request.path_params["export_id"]
            document = await db()[EXPORTS].find_one({"_id": export_id})
            if document is None or document["person"]["kind"] != self.kind:
                return None
            expected = await self.token(db(), export_id, document["expires_at"])
            given = request.query_params.get("token", "")
            if not hmac.compare_digest(expected, given):
                return None
            expires_at = document["expires_at"]
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
            if await now() >= expires_at:
                return None
            parts = await _by_service(db(), PARTS, export_id)
            document["parts"] = parts
            return document

        async def as_html(request: Request) -> Response:
            document = await load(request)
            if document is None:
                return HTMLResponse(summary.gone_html(), status_code=404)
            return HTMLResponse(summary.export_html(document))

        async def as_json(request: Request) -> Response:
            document = await load(request)
            if document is None:
                return JSONResponse({"error": "Diese Auskunft gibt es nicht (mehr)."}, 404)
            return JSONResponse(summary.export_json(document))

        prefix = PREFIXES[self.kind]
        return [
            Route("/rights/exports/{export_id:str}.json", as_json, name=f"{prefix}export_json"),
            Route("/rights/exports/{export_id:str}", as_html, name=f"{prefix}export_html"),
        ]

    def wire(self, service: Any) -> None:
        """Subscribe the owner's requests, the others' answers, the expiry; add the routes."""
        service.on_request(f"{self.kind}.export", self.export)
        service.on_request(f"{self.kind}.erase", self.erase)
        for other in self.others:
            service.on_event(f"{other}.person_exported", self.contributed)
            service.on_event(f"{other}.person_erased", self.confirmed)
        service.on_due(EXPIRY, self.expire)
        service.add_routes(*self.routes(lambda: service.db, service.clock.now))


async def link_secret(db: AsyncDatabase) -> bytes:
    """The service's secret for export links: made once, shared by its replicas."""
    document = await db[SECRET].find_one({"_id": "export_links"})
    if document is None:
        try:
            document = {"_id": "export_links", "secret": secrets.token_hex(32)}
            await db[SECRET].insert_one(document)
        except DuplicateKeyError:
            document = await db[SECRET].find_one({"_id": "export_links"}) or document
    return bytes.fromhex(document["secret"])


async def _keep(db: AsyncDatabase, collection: str, id_: str, fields: dict[str, Any]) -> None:
    """One service's part or confirmation under its own `_id` (a repeat writes the same)."""
    await db[collection].replace_one({"_id": id_}, {"_id": id_, **fields}, upsert=True)


async def _by_service(db: AsyncDatabase, collection: str, parent: str) -> dict[str, Any]:
    """The parts (or confirmations) of one export (or erasure), by service, read by `_id`."""
    found = {}
    for service in SERVICES:
        document = await db[collection].find_one({"_id": f"{parent}|{service}"}, {"_id": 0})
        if document is not None:
            found[service] = document
    return found


async def _forget_export(db: AsyncDatabase, export_id: str) -> None:
    for service in SERVICES:
        await db[PARTS].delete_one({"_id": f"{export_id}|{service}"})
    await db[EXPORTS].delete_one({"_id": export_id})
