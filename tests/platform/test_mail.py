"""The mail a person is pointed to can be read: in Mailpit's web page and with `diko mail`.

A test mail goes through Mailpit's SMTP port, as the notifications service sends; the page
is looked at in Chromium (its UI assets are built into the binary by `make stack`), the CLI
is run as the real `diko` program at 80 columns.
"""

from __future__ import annotations

import re
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest

from harness.browser import Eyes
from harness.cli import diko
from harness.mailpit import Mailpit
from harness.stack import SessionStack

SUBJECT = "Neuer Vorschlag [Test]: Lena Schröder für die Tischlerei Müller"
TEXT = "Hallo Frau Albrecht,\n\nmatching schlägt Lena Schröder vor (Tischler/in, Stendal).\n"
HTML = (
    "<!doctype html><html lang='de'><body><h1>Ein neuer Vorschlag</h1>"
    "<p>matching schlägt <strong>Lena Schröder</strong> vor.</p></body></html>"
)


@dataclass
class Sent:
    recipient: str
    mailpit_id: str


@pytest.fixture
async def sent(stack: SessionStack, mailpit: Mailpit) -> Sent:
    """One mail with a text and an HTML part, to a recipient of its own."""
    recipient = f"staff-{uuid.uuid4().hex[:10]}@diko.example"
    message = EmailMessage()
    message["From"] = "DIKO Altmark <noreply@diko.example>"
    message["To"] = f"Birte Albrecht <{recipient}>"
    message["Subject"] = SUBJECT
    message.set_content(TEXT)
    message.add_alternative(HTML, subtype="html")
    with smtplib.SMTP(stack.base["DIKO_SMTP_HOST"], int(stack.base["DIKO_SMTP_PORT"])) as smtp:
        smtp.send_message(message)
    found = await mailpit.wait_for(f"to:{recipient}")
    return Sent(recipient, found[0]["ID"])


def plain(output: str) -> str:
    """CLI output without table rules and with white space folded, to find wrapped text."""
    return " ".join(re.sub(r"[─━│┃┏┓┗┛┡┩╇╈┳┻┣┫╋]", " ", output).split())


def run_mail(stack: SessionStack, *args: str):
    return diko(stack, "mail", *args, env={"DIKO_MAILPIT_URL": stack.mailpit_url, "COLUMNS": "80"})


async def test_mailpit_s_page_shows_the_mail(stack: SessionStack, sent: Sent, eyes: Eyes) -> None:
    search = await eyes.look(
        f"{stack.mailpit_url}/search?q={quote(f'to:{sent.recipient}')}", "mailpit-search"
    )
    search.assert_sound()
    search.assert_shows(SUBJECT)

    opened = await eyes.look(f"{stack.mailpit_url}/view/{sent.mailpit_id}", "mailpit-message")
    opened.assert_sound()
    opened.assert_shows(SUBJECT, sent.recipient, "noreply@diko.example")


def test_diko_mail_list_shows_the_mail_intact_at_80_columns(
    stack: SessionStack, sent: Sent
) -> None:
    result = run_mail(stack, "list", "--search", f"to:{sent.recipient}")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    shown = plain(result.stdout)
    assert shown.startswith("# received to subject 1 ")
    assert sent.recipient in shown
    assert SUBJECT in shown, shown  # brackets and umlauts as sent, nothing cut


def test_diko_mail_show_prints_the_text_and_saves_the_html(
    stack: SessionStack, sent: Sent, tmp_path: Path
) -> None:
    saved = tmp_path / "mail.html"
    result = run_mail(stack, "show", "1", "--search", f"to:{sent.recipient}", "--html", str(saved))
    assert result.returncode == 0, result.stderr
    assert f"Subject:  {SUBJECT}" in result.stdout
    assert f"To:       Birte Albrecht <{sent.recipient}>" in result.stdout
    assert f"{stack.mailpit_url}/view/{sent.mailpit_id}" in result.stdout
    assert "matching schlägt Lena Schröder vor (Tischler/in, Stendal)." in result.stdout
    assert saved.read_text(encoding="utf-8").strip() == HTML

    by_id = run_mail(stack, "show", sent.mailpit_id)
    assert by_id.returncode == 0, by_id.stderr
    assert f"diko mail show {sent.mailpit_id} --html" in by_id.stdout


def test_diko_mail_names_what_is_missing(stack: SessionStack, sent: Sent) -> None:
    unknown = run_mail(stack, "show", "no-such-id")
    assert unknown.returncode == 2
    assert "Mailpit has no mail 'no-such-id'" in unknown.stderr

    beyond = run_mail(stack, "show", "2", "--search", f"to:{sent.recipient}")
    assert beyond.returncode == 2
    assert "there is no mail number 2" in beyond.stderr

    away = diko(stack, "mail", "list", env={"DIKO_MAILPIT_URL": "http://127.0.0.1:9"})
    assert away.returncode == 1
    assert "cannot reach Mailpit at http://127.0.0.1:9" in away.stderr
    assert "Traceback" not in away.stderr
