"""What the episode e-mail links to, asked of the media service through the contract.

`episode.published` names the feed, which is XML for podcast apps, not a page a person
can read; media serves no page per episode. The e-mail therefore links the episode's
audio (the feed's enclosure), which `episode.get` tells, and names the feed as the
address to give podcast apps.
"""

from __future__ import annotations

import json

from diko_shared.contract.media import Episode, GetEpisode
from diko_shared.messaging.errors import TransientError
from diko_shared.messaging.publisher import Publisher


class Episodes:
    """Asks media for an episode (`episode.get`), waiting at most `timeout_s`."""

    def __init__(self, publisher: Publisher, timeout_s: float) -> None:
        self._publisher = publisher
        self._timeout_s = timeout_s

    async def get(self, episode_id: str) -> Episode | None:
        """The episode as media stores it; None if media does not know it.

        No answer in time, or an error, is a `TransientError`: the event is retried like
        a mail server that does not answer, so the e-mail goes out complete.
        """
        try:
            reply = await self._publisher.request(
                GetEpisode(episode_id=episode_id), subject=episode_id, timeout=self._timeout_s
            )
        except TimeoutError:
            raise TransientError(
                f"media did not answer episode.get for {episode_id} within {self._timeout_s:g} s"
            ) from None
        if reply.get("ok"):
            return Episode.model_validate_json(json.dumps(reply["data"]))
        error = reply.get("error") or {}
        if error.get("code") == "not_found":
            return None
        raise TransientError(f"media answered episode.get for {episode_id} with {error}")
