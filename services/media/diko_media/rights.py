"""What media holds about people, and its part in their export and erasure.

Media keeps no applicant's data: posts and episodes present companies and positions.
An episode or post may name a company's contact person or a staff member by id (a
guest, an author); those parts are scrubbed on erasure and the episode or post stays.
Names written into free text (an episode's description) are not found by id: staff
edit such text by hand (docs/rights.md).
"""

from __future__ import annotations

from diko_media import store
from diko_shared.rights.holdings import SCRUB, Holding
from diko_shared.rights.participant import Rights

HOLDINGS = (
    Holding(
        store.EPISODES,
        ("contact", "staff"),
        scan=True,
        erase=SCRUB,
        purpose="Podcastfolgen: Gäste und Mitwirkende",
        kept="die Folge ohne den Namen",
    ),
    Holding(
        store.POSTS,
        ("contact", "staff"),
        scan=True,
        erase=SCRUB,
        purpose="Instagram-Posts: wer sie freigab",
        kept="der Post ohne den Namen",
    ),
)

RIGHTS = Rights("media", HOLDINGS)
