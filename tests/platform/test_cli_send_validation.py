"""`diko send` checks the payload against the contract first and says what is wrong, in German."""

from __future__ import annotations

import json

from harness.cli import diko
from harness.stack import SessionStack


def test_send_lists_every_bad_field_in_german_and_sends_nothing(stack: SessionStack) -> None:
    data = {
        "name": "Birte\u001bAlbrecht",
        "email": "birte..albrecht@diko.example",
        "role": "Beraterin",
        "colour": "rot",
    }
    sent = diko(stack, "send", "staff.register", "--data", json.dumps(data), "--no-wait")
    assert sent.returncode == 2
    out = " ".join((sent.stdout + sent.stderr).split())
    assert "data.name (text_character): Der Text enthält an Stelle 6" in out
    assert "data.email (email_invalid): Die E-Mail-Adresse ist ungültig: Zwei Punkte" in out
    assert "data.colour (extra_forbidden): Dieses Feld gibt es in dieser Nachricht nicht." in out
    assert "die Nutzdaten von staff.register haben 3 ungültige Felder; nichts gesendet." in out
    assert "Input should" not in out
    assert "sent staff.register" not in out
