"""The HTTP side every service has, served by a real service process."""

from __future__ import annotations

from harness.processes import ServiceProcess


def test_healthz_says_which_process_is_alive(testsvc: ServiceProcess) -> None:
    response = testsvc.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["service"] == "testsvc"
    assert body["pid"] == testsvc.process.pid


def test_readyz_checks_broker_and_database(testsvc: ServiceProcess) -> None:
    response = testsvc.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "service": "testsvc",
        "broker": "ok",
        "database": "ok",
    }


def test_asyncapi_document_describes_the_service_s_messages(testsvc: ServiceProcess) -> None:
    response = testsvc.get("/asyncapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["asyncapi"].startswith("3.")
    assert document["info"]["title"] == "diko testsvc"
    text = response.text
    for message_type in ("tally.add", "tally.flaky", "tally.get", "tally.added"):
        assert message_type in text


def test_asyncapi_page_is_html_for_people(testsvc: ServiceProcess) -> None:
    response = testsvc.get("/asyncapi")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    assert "testsvc" in response.text
