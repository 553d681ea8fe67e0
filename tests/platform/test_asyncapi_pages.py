"""Each service's /asyncapi page, as a person opens it: offline, complete, and honest.

The four real services run as OS processes; each page is loaded in Chromium, which must
fetch nothing from another host (the page used to load its viewer from a CDN and stayed
blank offline), and must show every message the service receives and publishes, the
fields of their payloads, the broker the service really uses (without its password) and
a working link to the JSON document.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from diko_shared.contract.catalogue import CATALOGUE
from diko_shared.service import asyncapi, asyncapi_page
from harness.browser import Eyes
from harness.processes import ServiceProcess
from harness.stack import SessionStack

SERVICES = ("companies", "matching", "notifications", "media")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


@pytest.fixture(scope="module")
def services(stack: SessionStack) -> Iterator[dict[str, ServiceProcess]]:
    secret = secrets.token_urlsafe(32)
    processes = {
        name: ServiceProcess(
            f"{name}-asyncapi",
            f"diko_{name}",
            None,
            stack.service_env(name, DIKO_LINK_SECRET=secret),
        )
        for name in SERVICES
    }
    try:
        for process in processes.values():
            process.launch()
        for process in processes.values():
            process.wait_ready(timeout=180)  # matching compiles its kernels on a fresh machine
        yield processes
    finally:
        for process in processes.values():
            process.stop()


def message_types(service: str) -> list[str]:
    owned = [spec.type for spec in CATALOGUE.owned_by(service)]
    return sorted({*owned, *CATALOGUE.reactions(service)})


@pytest.mark.parametrize("name", SERVICES)
async def test_the_page_shows_every_message_offline(
    services: dict[str, ServiceProcess], stack: SessionStack, eyes: Eyes, name: str
) -> None:
    process = services[name]
    look = await eyes.look(f"{process.base_url}/asyncapi", f"asyncapi-{name}")
    look.assert_sound()
    broker = urlsplit(stack.amqp_url)
    look.assert_shows(
        f"diko {name}",
        f"Messages diko {name} receives",
        f"Broker: amqp://{broker.hostname}:{broker.port}{broker.path}",
        "The envelope",
        *message_types(name),
    )
    assert broker.password not in look.text
    assert "rabbitmq:5672" not in look.text  # the placeholder is for the committed files only
    for spec in CATALOGUE.owned_by(name):
        fields = spec.payload.model_json_schema().get("properties", {})
        look.assert_shows(spec.payload.__name__, *fields)


async def test_a_page_links_its_json_document(
    services: dict[str, ServiceProcess], stack: SessionStack, eyes: Eyes
) -> None:
    page = await eyes.page()
    try:
        await page.goto(f"{services['companies'].base_url}/asyncapi")
        async with page.expect_navigation() as navigation:
            await page.click("text=the document as JSON")
        response = await navigation.value
        assert response is not None
        assert response.status == 200
        document = json.loads(await response.text())
    finally:
        await page.context.close()
    server = document["servers"]["development"]
    broker = urlsplit(stack.amqp_url)
    assert server["host"] == f"{broker.hostname}:{broker.port}"
    assert server["pathname"] == broker.path
    assert broker.password not in json.dumps(document)


async def test_the_phone_layout_keeps_the_tables_readable(
    services: dict[str, ServiceProcess], eyes: Eyes
) -> None:
    look = await eyes.look(
        f"{services['matching'].base_url}/asyncapi", "asyncapi-matching-phone", width=390
    )
    look.assert_sound()
    look.assert_shows("applicant.register", "home_town")


def test_the_committed_documents_name_a_placeholder_broker_and_say_so() -> None:
    for name in SERVICES:
        server = json.loads((DOCS / f"{name}.json").read_text())["servers"]["development"]
        assert f"{server['protocol']}://{server['host']}{server['pathname']}" == (
            asyncapi.DOCUMENTED_SERVER
        )
        assert "placeholder" in server["description"]


def test_a_broker_address_is_shown_without_credentials_or_options() -> None:
    url = "amqp://diko:s3cret@rabbit.example:5671/diko?heartbeat=30"
    assert asyncapi.public_broker_url(url) == "amqp://rabbit.example:5671/diko"
    document = asyncapi.document("media", broker_url=url)
    assert "s3cret" not in json.dumps(document)
    assert document["servers"]["development"]["host"] == "rabbit.example:5671"


def test_the_page_escapes_what_the_document_says() -> None:
    document = asyncapi.document("companies")
    document["info"]["description"] = "<script>alert('x')</script> & more"
    html = asyncapi_page.render(document)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in html


def test_every_field_of_a_payload_is_a_row_with_its_constraints() -> None:
    html = asyncapi_page.render(asyncapi.document("companies"))
    # nested objects unfold into dotted names, with lengths, patterns and examples
    for text in ("address.postcode", "contact.email", "1–200 characters", "Example payload"):
        assert text in html, text
    assert html.count('class="required"') > 5
    assert "Replies <code>{&#34;ok&#34;: true" in html
    assert httpx.URL("/asyncapi.json").path in html
