"""What media holds about people, and its part in their export and erasure.

Media keeps no applicant's data. It names companies' contact persons in five places:
episodes (a guest, with the contact's id), its copy of the companies (each contact's
consents, under the contact's id), the presentations on the website (the person to
contact, with the id when staff gave it), posts (a guest's name in an episode post's
caption) and the alt texts of the companies' photos on the website. Ids find the first
three; the names and addresses media's own copies give the person (`identify`, read
before anything is erased) find the rest, such as a name in an episode's description, a
post's caption or a photo's alt text.

The erasure drops the person's entry (a guest, a presentation's contact, a contact's
consents) and overwrites the name wherever it stands in a text; the episode, post,
company and presentation stay. It notes the presentations and episodes that show the
person before erasing, and marks them as changed after (a build that runs meanwhile
reads the old data and consumes earlier marks), so the website's next build no longer
shows the person; a process that dies in between builds the whole site when it starts
again. It drops the rendered slides of posts whose text named them (the images show the
name), and deletes the photos whose description names them (the photo likely shows them)
with their files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from diko_media import store
from diko_media.site import photos as site_photos
from diko_media.site import store as site_store
from diko_shared.contract.envelope import ErrorDetail
from diko_shared.contract.rights import Person
from diko_shared.messaging.errors import Invalid
from diko_shared.rights import holdings as found
from diko_shared.rights.holdings import Holding, Rewrite, redact
from diko_shared.rights.participant import Rights, is_erased
from diko_shared.store.group_commit import Write

WHO = ("contact", "staff")

HOLDINGS = (
    Holding(
        store.EPISODES,
        WHO,
        scan=True,
        erase=Rewrite(redact),
        purpose="Podcastfolgen: Gäste und Mitwirkende",
        kept="die Folge ohne die Person und ohne ihren Namen",
    ),
    Holding(
        store.POSTS,
        WHO,
        scan=True,
        erase=Rewrite(redact),
        purpose="Instagram-Posts: wen sie nennen und wer sie freigab",
        kept="der Post ohne den Namen (seine Bilder werden gelöscht)",
    ),
    Holding(
        store.COMPANIES,
        ("contact",),
        scan=True,
        erase=Rewrite(redact),
        purpose="Kopie der Betriebe: die Einwilligungen ihrer Ansprechpersonen",
        kept="der Betrieb ohne die Einwilligungen der Person",
    ),
    Holding(
        site_photos.PHOTOS,
        ("contact",),
        scan=True,
        # A photo whose description names the person likely shows them: deleted, and its
        # files after it (MediaRights.erase).
        purpose="Fotos der Betriebe auf der Website: Bildbeschreibungen, die eine Person nennen",
    ),
    Holding(
        site_store.PRESENTATIONS,
        ("contact",),
        scan=True,
        erase=Rewrite(redact),
        purpose="Vorstellungen der Betriebe auf der Website: die Ansprechperson",
        kept="die Vorstellung ohne die Person (die Website nennt dann das Netzwerk)",
    ),
)


async def identify(db: AsyncDatabase, person: Person) -> list[str]:
    """The names and addresses media's own copies give a contact person."""
    if person.kind != "contact":
        return []
    names: list[str] = []
    async for episode in db[store.EPISODES].find({"persons.contact_id": person.person_id}):
        persons = episode.get("persons") or []
        names += [p.get("name") for p in persons if p.get("contact_id") == person.person_id]
    async for shown in db[site_store.PRESENTATIONS].find({"contact.contact_id": person.person_id}):
        contact = shown.get("contact") or {}
        names += [contact.get("name"), contact.get("email"), contact.get("phone")]
    return sorted({n for n in names if n})


class MediaRights(Rights):
    """Media's part: the holdings, and the website and podcast pages built without the person."""

    async def erase(
        self,
        db: AsyncDatabase,
        person: Person,
        related: Sequence[str],
        erasure_id: str,
        at: datetime,
        extra_needles: Sequence[str] = (),
    ) -> dict[str, Any]:
        needles = [
            *self.needles(person, related),
            *extra_needles,
            *await self.own_needles(db, person),
        ]
        rebuild = await _showing(db, needles, erasure_id, at)
        photos = await found.documents(db, _by_collection()[site_photos.PHOTOS], needles)
        tombstone = await super().erase(db, person, related, erasure_id, at, extra_needles)
        writes = [*site_photos.forget_files([d["_id"] for d in photos]), *rebuild]
        for document in photos:
            writes += site_store.changed("company", document["company_id"],
                                         f"erasure-{erasure_id}", at)  # fmt: skip
        for write in writes:
            await db[write.collection].bulk_write([write.op])
        return tombstone


async def _showing(
    db: AsyncDatabase, needles: Sequence[str], erasure_id: str, at: datetime
) -> list[Write]:
    """The marks that rebuild what shows the person; the slides that show them go at once."""
    by = _by_collection()
    token = f"erasure-{erasure_id}"
    writes: list[Write] = []
    for shown in await found.documents(db, by[site_store.PRESENTATIONS], needles):
        writes += site_store.changed("company", shown["_id"], token, at)
    if await found.documents(db, by[store.EPISODES], needles):
        writes += [*site_store.changed("episodes", "all", token, at), store.bump_feed(token)]
    for post in await found.documents(db, by[store.POSTS], needles):
        slides = f"^{re.escape(post['_id'])}/"
        await db[store.POST_IMAGES].delete_many({"_id": {"$regex": slides}})
    return writes


def _by_collection() -> dict[str, Holding]:
    return {h.collection: h for h in HOLDINGS}


RIGHTS = MediaRights("media", HOLDINGS, identify=identify)

ERASED_CONTACT = (
    "Die Ansprechperson {contact_id} wurde gelöscht: media nennt sie nicht mehr (ein alter "
    "Auftrag, erneut gesendet?)."
)


async def refuse_erased(db: AsyncDatabase, named: Sequence[tuple[str, str | None]]) -> None:
    """Refuse a command that names an erased contact person: (field, contact id) pairs.

    A replayed old command (an episode with its guest, a presentation with its contact)
    must not bring back a person erased since; a new one must not name them either."""
    for field, contact_id in named:
        if contact_id and await is_erased(db, contact_id):
            raise Invalid(
                ERASED_CONTACT.format(contact_id=contact_id),
                [ErrorDetail(field=field, problem="gelöschte Ansprechperson")],
            )
