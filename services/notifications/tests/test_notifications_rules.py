"""Who gets what and when: responsibilities, preferences, quiet hours, digests, the newer
letters and the .ics. Pure rules, no server."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from html import unescape

import pytest
from icalendar import Calendar

from diko_notifications import bounces, digest, letters, preferences, recipients
from diko_notifications.domain import ActionLinks
from diko_notifications.ics import timetable
from diko_notifications.links import PreferenceLinkInvalid, PreferenceLinks
from diko_notifications.preferences import BERLIN, Prefs, next_digest, quiet_until, route
from diko_notifications.proposals import DecisionRecord, ProposalRecord
from diko_notifications.recipients import (
    Area,
    ContactCopy,
    Recipient,
    StaffMember,
    Where,
    assign,
    checked,
    company_contact,
    responsible,
)
from diko_notifications.render import Footer, render_letter
from diko_shared.contract.companies import FollowUpDue
from diko_shared.contract.matching import Fair, MatchProposed
from diko_shared.contract.notifications import RecordBounce, Responsibilities, SendNotification
from diko_shared.messaging.errors import Invalid

SECRET = "s" * 40


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


# -- responsibilities -------------------------------------------------------------------------


def member(staff_id: str, **area: object) -> StaffMember:
    return StaffMember(staff_id, staff_id, f"{staff_id}@diko.example", recipients.area_of(area))


STENDAL_WOOD = member("stf_" + "1" * 20, districts=["Stendal"], occupation_fields=["22"])
GARDELEGEN = member("stf_" + "2" * 20, municipalities=["Gardelegen"])
EVERYWHERE = member("stf_" + "3" * 20)
TEAM = StaffMember("stf_" + "9" * 20, "DIKO-Team", "team@diko.example", Area(), team=True)


def test_a_district_covers_its_towns_and_a_field_its_occupations() -> None:
    tischler_in_osterburg = Where("Osterburg", "22342")
    assert responsible([STENDAL_WOOD, GARDELEGEN], tischler_in_osterburg) == [STENDAL_WOOD]
    baecker_in_osterburg = Where("Osterburg", "29302")
    assert responsible([STENDAL_WOOD, GARDELEGEN], baecker_in_osterburg) == []
    # Gardelegen lies in the Altmarkkreis Salzwedel, not in the Landkreis Stendal.
    assert responsible([STENDAL_WOOD, GARDELEGEN], Where("Gardelegen", "22342")) == [GARDELEGEN]


def test_without_areas_or_fields_a_staff_member_covers_everything_but_the_team_nothing() -> None:
    assert responsible([EVERYWHERE, TEAM], Where("Salzwedel", "29302")) == [EVERYWHERE]
    assert responsible([EVERYWHERE], Where(None, None)) == [EVERYWHERE]
    assert responsible([STENDAL_WOOD], Where(None, "22342")) == []


def test_what_nobody_responsible_receives_goes_to_the_team() -> None:
    items = [Where("Stendal", "22342"), Where("Salzwedel", "29302"), Where("Tangermünde", "22342")]
    got = assign(items, [STENDAL_WOOD, GARDELEGEN, TEAM], lambda m: True, TEAM)
    assert got == {STENDAL_WOOD.staff_id: [0, 2], TEAM.staff_id: [1]}
    # A responsible member who switched the kind off does not count as receiving it.
    got = assign(items, [STENDAL_WOOD, TEAM], lambda m: m is not STENDAL_WOOD, TEAM)
    assert got == {TEAM.staff_id: [0, 1, 2]}
    assert assign(items[1:2], [STENDAL_WOOD], lambda m: True, None) == {}


def test_responsibilities_are_checked_against_the_gazetteer_and_spelled_as_it_does() -> None:
    stored = checked(
        Responsibilities(
            districts=["Landkreis Stendal"],
            municipalities=["gardelegen", "Gardelegen"],
            occupation_fields=["22", "2", "22"],
        )
    )
    assert stored == {
        "districts": ["Stendal"],
        "municipalities": ["Gardelegen"],
        "occupation_fields": ["2", "22"],
    }
    with pytest.raises(Invalid) as refused:
        checked(Responsibilities(districts=["Stendhal"], municipalities=["Atlantis"]))
    fields = [d.field for d in refused.value.details]
    assert fields == [
        "data.responsibilities.districts[0]",
        "data.responsibilities.municipalities[0]",
    ]
    assert "„Stendhal“" in refused.value.details[0].problem


def test_a_companys_placement_mail_goes_to_whoever_trains_and_wants_e_mail() -> None:
    def contact(
        n: int, role: str | None, channel: str = "email", email: str | None = "x@y.de"
    ) -> ContactCopy:
        return ContactCopy(f"cnt_{n:020d}", "cmp_" + "0" * 20, f"P{n}", email, role, channel)

    owner, trainer = contact(1, "Inhaber/in"), contact(2, "Ausbilder/in")
    assert company_contact([owner, trainer]) == trainer
    assert company_contact([owner, contact(3, "Ausbilder/in", channel="phone")]) == owner
    assert company_contact([contact(4, None, email=None)]) is None
    assert not owner.allows(transactional=False)
    assert owner.allows(transactional=True)
    consenting = ContactCopy(
        owner.contact_id, owner.company_id, "P", "x@y.de", None, "email", {"newsletter": "given"}
    )
    assert consenting.allows(transactional=False)


# -- preferences and time ---------------------------------------------------------------------


QUIET = Prefs(quiet=(time(19, 0), time(7, 0)))


def test_quiet_hours_across_midnight_hold_mail_until_they_end() -> None:
    assert quiet_until(QUIET, berlin(2026, 12, 2, 18, 59)) is None
    assert quiet_until(QUIET, berlin(2026, 12, 2, 22, 0)) == berlin(2026, 12, 3, 7, 0)
    assert quiet_until(QUIET, berlin(2026, 12, 3, 6, 30)) == berlin(2026, 12, 3, 7, 0)
    assert quiet_until(
        Prefs(quiet=(time(12, 0), time(13, 0))), berlin(2026, 12, 2, 12, 15)
    ) == berlin(2026, 12, 2, 13, 0)


def test_a_quiet_weekend_holds_mail_until_monday_after_its_quiet_hours() -> None:
    weekend = Prefs(quiet=(time(19, 0), time(7, 0)), weekends=True)
    friday_night = berlin(2026, 12, 4, 21, 0)
    assert quiet_until(weekend, friday_night) == berlin(2026, 12, 7, 7, 0)
    assert quiet_until(weekend, berlin(2026, 12, 6, 12, 0)) == berlin(2026, 12, 7, 7, 0)
    assert quiet_until(Prefs(weekends=True), berlin(2026, 12, 5, 12, 0)) == berlin(
        2026, 12, 7, 0, 0
    )


def test_quiet_hours_end_at_the_wall_clock_time_across_the_change_to_summer_time() -> None:
    # 29 March 2026: clocks go from 2:00 to 3:00; 7:00 is then 5:00 UTC, not 6:00.
    end = quiet_until(QUIET, berlin(2026, 3, 28, 23, 0))
    assert end == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)


def test_the_digest_leaves_at_the_chosen_hour_and_on_monday_instead_of_the_weekend() -> None:
    prefs = Prefs(digest_hour=7)
    assert next_digest(prefs, berlin(2026, 12, 2, 6, 0)) == (
        berlin(2026, 12, 2, 7, 0),
        date(2026, 12, 2),
    )
    assert next_digest(prefs, berlin(2026, 12, 2, 7, 0)) == (
        berlin(2026, 12, 3, 7, 0),
        date(2026, 12, 3),
    )
    weekend = Prefs(digest_hour=7, weekends=True)
    assert next_digest(weekend, berlin(2026, 12, 4, 9, 0)) == (
        berlin(2026, 12, 7, 7, 0),
        date(2026, 12, 7),
    )


def test_route_follows_the_kind_and_a_transactional_mail_ignores_off_and_digest() -> None:
    prefs = Prefs(
        kinds={**preferences.DEFAULT_KINDS, "position.filled": "digest", "notice": "off"},
        quiet=(time(19, 0), time(7, 0)),
    )
    evening = berlin(2026, 12, 2, 20, 0)
    assert route(prefs, "match.proposed", berlin(2026, 12, 2, 10, 0)).how == "now"
    held = route(prefs, "match.proposed", evening)
    assert (held.how, held.at) == ("hold", berlin(2026, 12, 3, 7, 0))
    digested = route(prefs, "position.filled", evening)
    assert (digested.how, digested.period) == ("digest", date(2026, 12, 3))
    assert route(prefs, "notice", evening).how == "off"
    assert route(prefs, "notice", evening, transactional=True).how == "hold"
    assert route(prefs, "episode.published", evening).how == "off", "episodes only on request"


def test_subscribe_switches_the_three_old_topics_and_leaves_the_rest() -> None:
    before = Prefs(kinds={**preferences.DEFAULT_KINDS, "fair.planned": "digest"})
    after = preferences.from_subscription(["episode.published"], "digest", before)
    assert after.mode("episode.published") == "digest"
    assert after.mode("match.proposed") == after.mode("position.filled") == "off"
    assert after.mode("fair.planned") == "digest"
    stored = preferences.to_document(after)
    assert all("=" in item for item in stored["kinds"])  # type: ignore[union-attr]
    assert preferences.from_document(stored) == after


# -- links ------------------------------------------------------------------------------------


def test_a_preference_link_carries_its_recipient_and_kind_and_refuses_tampering() -> None:
    links = PreferenceLinks(SECRET, "https://diko.example/")
    url = links.unsubscribe_url("cnt_" + "5" * 20, "placement")
    token = url.rsplit("/", 1)[1]
    assert url.startswith("https://diko.example/unsubscribe/")
    target = links.read(token)
    assert (target.recipient_key, target.kind, target.recipient_kind) == (
        "cnt_" + "5" * 20,
        "placement",
        "contact",
    )
    with pytest.raises(PreferenceLinkInvalid):
        links.read(token[:-2] + "xx")
    with pytest.raises(PreferenceLinkInvalid):
        PreferenceLinks("t" * 40, "https://diko.example").read(token)


# -- letters ----------------------------------------------------------------------------------


APPLICANT = Recipient("apl_" + "7" * 20, "applicant", "Lena", "lena@example.org", young=True)
CONTACT = Recipient("cnt_" + "8" * 20, "contact", "Jana Müller", "jana@tischlerei.example")
STAFF = Recipient("stf_" + "1" * 20, "staff", "Birte Albrecht", "birte@diko.example")
PLACEMENT = letters.Placement(
    company="Tischlerei Müller GmbH",
    town="Stendal",
    applicant="Lena Schröder",
    home_town="Osterburg (Altmark)",
    occupation="Tischler/in",
    start=date(2027, 8, 1),
    staff_name="Birte Albrecht",
    staff_email="birte@diko.example",
    decided_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),  # a Thursday
)


def test_placement_mails_say_who_and_when_to_expect_a_call_and_why_they_come_anyway() -> None:
    company = render_letter(
        letters.placement_company_letter(PLACEMENT),
        CONTACT,
        Footer(transactional=letters.PLACEMENT_NOTE_COMPANY),
    )
    assert company.subject == "Vermittlung: Lena Schröder für Ihre Ausbildungsstelle"
    for body in (company.text, unescape(company.html)):
        assert "Guten Tag Jana Müller," in body
        assert (
            "Birte Albrecht vom DIKO-Team meldet sich bis Dienstag, 8.\u00a0Dezember, bei Ihnen"
            in body
        )
        assert "auch, wenn Sie sonst keine Nachrichten von uns wünschen" in body
    contact = ContactCopy(
        "cnt_" + "8" * 20,
        "cmp_" + "0" * 20,
        "Jana Müller",
        "jana@tischlerei.example",
        "Ausbilder/in",
        "email",
    )
    young = render_letter(letters.placement_applicant_letter(PLACEMENT, contact), APPLICANT)
    assert young.subject == "Tischlerei Müller GmbH möchte dich kennenlernen"
    for body in (young.text, unescape(young.html)):
        assert "Hallo Lena," in body
        assert "Jana Müller (Ausbilder/in)" in body
        assert "meldet sich bis Dienstag, 8.\u00a0Dezember, bei dir" in body
        assert " Sie " not in body, "an applicant is told „du“"


def test_working_days_skip_the_weekend() -> None:
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    assert letters.working_days_after(friday, 3) == date(2026, 12, 9)


FAIR = Fair.model_validate_json(json.dumps(Fair.model_config["json_schema_extra"]["examples"][0]))  # type: ignore[index]


def test_a_fair_timetable_lists_each_interview_and_its_ics_is_in_berlin_time() -> None:
    applicant = FAIR.applicants[0]
    rows = letters.applicant_rows(FAIR, applicant.ref)
    assert [(r.time, r.table, r.with_) for r in rows] == [
        ("09:00–09:15", 1, "Tischlerei Müller GmbH")
    ]
    ics = timetable(
        fair_id=FAIR.fair_id,
        person=applicant.ref,
        title=FAIR.title,
        day=FAIR.date,
        location="BBS Stendal",
        rows=rows,
        stamp=datetime(2026, 12, 1, tzinfo=UTC),
    )  # type: ignore[arg-type]
    calendar = Calendar.from_ical(ics)
    [event] = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == berlin(2027, 3, 13, 9, 0)
    assert event.decoded("dtend") == berlin(2027, 3, 13, 9, 15)
    assert str(event["summary"]) == "Bewerberbörse Stendal: Tischlerei Müller GmbH"
    assert calendar.walk("VTIMEZONE"), "the time zone travels with the file"
    again = timetable(
        fair_id=FAIR.fair_id,
        person=applicant.ref,
        title=FAIR.title,
        day=FAIR.date,
        location="BBS Stendal",
        rows=rows,
        stamp=datetime(2026, 12, 2, tzinfo=UTC),
    )  # type: ignore[arg-type]
    assert Calendar.from_ical(again).walk("VEVENT")[0]["uid"] == event["uid"]
    letter = letters.fair_person_letter(FAIR, rows, young=True, company="", calendar=ics)
    mail = render_letter(letter, APPLICANT)
    assert "Du triffst dort einen Betrieb." in mail.text
    assert letter.attachments[0].filename == "bewerberboerse.ics"


def test_a_follow_up_reminder_names_the_company_topics_and_contact() -> None:
    event = FollowUpDue.model_validate_json(
        json.dumps(FollowUpDue.model_config["json_schema_extra"]["examples"][0])
    )  # type: ignore[index]
    mail = render_letter(letters.follow_up_letter(event), STAFF)
    assert mail.subject == "Wiedervorlage: Tischlerei Müller GmbH"
    assert (
        "heute steht die Wiedervorlage zu Ihrer Beratung bei Tischlerei Müller GmbH "
        "vom 20.\u00a0November 2026 an." in mail.text
    )
    assert "Website, Google-Unternehmensprofil" in mail.text
    assert "Jana Müller, Telefon 03931 123456" in mail.text


def test_a_notice_carries_the_senders_button_and_its_reason() -> None:
    notice = SendNotification.model_validate_json(
        json.dumps(SendNotification.model_config["json_schema_extra"]["examples"][1])
    )  # type: ignore[index]
    mail = render_letter(letters.notice_letter(notice), CONTACT)
    assert 'href="https://media.diko.example/posts/approve/abc"' in mail.html
    assert (
        "Beitrag ansehen und freigeben:\nhttps://media.diko.example/posts/approve/abc" in mail.text
    )
    assert "Ansprechperson für Beiträge bei DIKO" in mail.text


def test_a_digest_counts_groups_and_leaves_out_what_was_decided() -> None:
    example = MatchProposed.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    event = MatchProposed.model_validate_json(json.dumps(example))
    first = event.proposals[0]
    second = first.model_copy(update={"proposal_id": "prp_" + "e" * 20, "rank": 2})
    proposed = event.model_copy(update={"proposals": [first, second]})
    follow_up = FollowUpDue.model_validate_json(
        json.dumps(FollowUpDue.model_config["json_schema_extra"]["examples"][0])
    )  # type: ignore[index]
    decided = ProposalRecord(
        first.proposal_id,
        decision=DecisionRecord("accepted", None, datetime(2026, 12, 3, tzinfo=UTC)),
    )
    links = ActionLinks(SECRET, "https://diko.example", timedelta(days=14))
    items = [("match.proposed", proposed), ("consultation.follow_up_due", follow_up)]
    letter, counts = digest.digest_letter(
        STAFF, items, {first.proposal_id: decided}, links, date(2026, 12, 4), 7
    )
    assert letter is not None
    assert counts == {"match.proposed": 1, "consultation.follow_up_due": 1}
    assert (
        letter.subject
        == "Ihre Übersicht vom 4.\u00a0Dezember 2026: ein Vorschlag und eine Wiedervorlage"
    )
    mail = render_letter(letter, STAFF)
    assert mail.text.count("Vorschlag annehmen:") == 1
    assert "Tischlerei Müller GmbH" in mail.text
    only_decided = event.model_copy(update={"proposals": [first]})
    nothing, _ = digest.digest_letter(
        STAFF,
        [("match.proposed", only_decided)],
        {first.proposal_id: decided},
        links,
        date(2026, 12, 4),
        7,
    )
    assert nothing is None, "an empty digest is not sent"


# -- bounces reported after the relay took the mail ------------------------------------------

#: A report as Postfix writes it, CRLF line ends and folded fields: one recipient failed,
#: one delayed, one delivered; the original's headers returned (text/rfc822-headers).
POSTFIX_REPORT = (
    "From: MAILER-DAEMON@relay.diko.example\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
    '\tboundary="4711/relay.diko.example"\r\n'
    "\r\n"
    "--4711/relay.diko.example\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "\r\n"
    "I'm sorry to have to inform you that your message could not be delivered.\r\n"
    "\r\n"
    "--4711/relay.diko.example\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; relay.diko.example\r\n"
    "\r\n"
    "Final-Recipient: rfc822; gone@betrieb.example\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <gone@betrieb.example>:\r\n"
    "    Recipient address rejected: User unknown\r\n"
    "\r\n"
    "Final-Recipient: rfc822;full@betrieb.example\r\n"
    "Action: delayed\r\n"
    "Status: 4.2.2\r\n"
    "\r\n"
    "Final-Recipient: rfc822; fine@betrieb.example\r\n"
    "Action: delivered\r\n"
    "Status: 2.0.0\r\n"
    "\r\n"
    "--4711/relay.diko.example\r\n"
    "Content-Type: text/rfc822-headers\r\n"
    "\r\n"
    "Message-ID: <dlv_0123456789abcdef0123@diko.example>\r\n"
    "Subject: Ein Hinweis\r\n"
    "\r\n"
    "--4711/relay.diko.example--\r\n"
)


def test_a_relays_report_names_each_failed_recipient_and_the_delivery() -> None:
    found = bounces.read(RecordBounce(report=POSTFIX_REPORT))
    assert [(b.email, b.status, b.permanent, b.delivery_id) for b in found] == [
        ("gone@betrieb.example", "5.1.1", True, "dlv_0123456789abcdef0123"),
        ("full@betrieb.example", "4.2.2", False, "dlv_0123456789abcdef0123"),
    ]
    assert found[0].error == (
        "5.1.1 smtp; 550 5.1.1 <gone@betrieb.example>: Recipient address rejected: User unknown"
    )


def test_a_bounce_given_as_fields_finds_its_delivery_in_the_message_id() -> None:
    (bounce,) = bounces.read(
        RecordBounce(
            email="gone@betrieb.example",
            status="5.2.1",
            message_id="<dlv_00000000000000000000@diko.example>",
        )
    )
    assert (bounce.delivery_id, bounce.permanent, bounce.error) == (
        "dlv_00000000000000000000",
        True,
        "5.2.1",
    )


def test_a_report_without_a_failed_recipient_is_refused_in_german() -> None:
    delivered = POSTFIX_REPORT.replace("Action: failed", "Action: delivered").replace(
        "Action: delayed", "Action: relayed"
    )
    with pytest.raises(Invalid) as refused:
        bounces.read(RecordBounce(report=delivered))
    assert "nennt keinen Empfänger, dem nicht zugestellt werden konnte" in str(refused.value)
    assert refused.value.details[0].field == "data.report"
