"""Reading the mail the services sent, through Mailpit's HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from harness.waiting import eventually


class Mailpit:
    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=10.0)

    async def close(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> Mailpit:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def search(self, query: str) -> list[dict[str, Any]]:
        """Message summaries matching a Mailpit search, e.g. `to:anna@example.org`."""
        response = await self.client.get("/api/v1/search", params={"query": query, "limit": 500})
        response.raise_for_status()
        return response.json()["messages"]

    async def message(self, message_id: str) -> dict[str, Any]:
        """One message in full: headers, `Text` and `HTML` bodies."""
        response = await self.client.get(f"/api/v1/message/{message_id}")
        response.raise_for_status()
        return response.json()

    async def wait_for(
        self, query: str, *, count: int = 1, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        async def enough() -> list[dict[str, Any]]:
            found = await self.search(query)
            return found if len(found) >= count else []

        return await eventually(enough, timeout=timeout, what=f"{count} mail(s) for {query!r}")
