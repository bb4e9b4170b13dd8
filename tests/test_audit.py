"""Every read that shows a person's identity is audited, and supervisors read the whole audit
on one page (issue 11)."""

from datetime import date, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from dispatch.models import AuditEntry, ExportAudit
from referrals.models import FollowUp, PersonAccess
from referrals.services import follow_up_create, person_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return [
        person_create(actor=None, name="Ana Ruiz", phone="720-555-0101"),
        person_create(actor=None, name="Ana Bell", phone="720-555-0102"),
        person_create(actor=None, name="Bo Diaz"),
    ]


def test_a_person_search_writes_who_searched_what_and_whom_it_showed(client, personas, people):
    client.force_login(personas["case_manager"])
    response = client.get(reverse("referrals:people"), {"q": "ana"})
    assert response.status_code == 200 and "Ana Ruiz" in response.content.decode()
    entry = AuditEntry.objects.get(action="person.search")
    assert entry.actor == personas["case_manager"] and entry.kind == AuditEntry.Kind.IDENTITY_READ
    assert entry.detail["q"] == "ana" and entry.detail["count"] == 2
    assert sorted(entry.detail["person_ids"]) == sorted([people[0].pk, people[1].pk])
    listed = PersonAccess.objects.filter(kind=PersonAccess.Kind.LISTED, user=personas["case_manager"])
    assert sorted(listed.values_list("person_id", flat=True)) == sorted([people[0].pk, people[1].pk])
    # A search that finds no one is on record too; the empty page writes nothing.
    client.get(reverse("referrals:people"), {"q": "zzz"})
    assert AuditEntry.objects.get(action="person.search", detail__q="zzz").detail["count"] == 0
    client.get(reverse("referrals:people"))
    assert AuditEntry.objects.filter(action="person.search").count() == 2


def test_a_role_that_may_not_search_people_leaves_no_entry_and_sees_nothing(client, personas, people):
    client.force_login(personas["police_officer"])
    assert client.get(reverse("referrals:people"), {"q": "ana"}).status_code == 403
    assert not AuditEntry.objects.filter(action="person.search").exists()


def test_the_follow_up_queue_writes_the_rows_it_showed_once_per_ten_minutes(client, personas, people):
    for person in people[:2]:
        follow_up_create(actor=None, service_type=FollowUp.ServiceType.values[0], consent=True, person=person)
    client.force_login(personas["case_manager"])
    home = reverse("referrals:case_manager_home")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert client.get(home).status_code == 200
        entry = AuditEntry.objects.get(action="followup.queue")
        assert entry.detail["count"] == 2 and entry.actor == personas["case_manager"]
        assert (
            PersonAccess.objects.filter(kind=PersonAccess.Kind.LISTED, detail="follow-up queue").count() == 2
        )
        # The queue refreshing itself with the same rows is not written again…
        client.get(home, HTTP_HX_REQUEST="true")
        assert AuditEntry.objects.filter(action="followup.queue").count() == 1
        # …other rows are, and so is the same list later.
        client.get(home, {"q": "Bell"})
        assert AuditEntry.objects.filter(action="followup.queue").count() == 2
        clock.shift(timedelta(minutes=11))
        client.get(home, {"q": "Bell"})
        assert AuditEntry.objects.filter(action="followup.queue").count() == 3


def test_supervisors_read_the_whole_audit_with_identified_exports_shown(client, personas, people):
    supervisor, cm = personas["supervisor"], personas["case_manager"]
    client.force_login(cm)
    client.get(reverse("referrals:people"), {"q": "bo"})
    client.get(reverse("referrals:person", kwargs={"person_id": people[2].pk}))
    ExportAudit.objects.create(
        user=supervisor,
        kind="incidents",
        range_start=date(2026, 1, 1),
        range_end=date(2026, 1, 31),
        with_identifiers=True,
    )
    client.force_login(supervisor)
    page = client.get(reverse("referrals:person_audit"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "person.search" in text and "Viewed" in text and "Shown in a list" in text
    assert "Incidents export" in text and "with names, phones and addresses" in text
    rows = page.context["rows"]
    assert [row["at"] for row in rows] == sorted((row["at"] for row in rows), reverse=True)
    # By person: only what names Bo.
    by_person = client.get(reverse("referrals:person_audit"), {"person": people[2].pk}).context["rows"]
    assert {row["what"] for row in by_person} == {"Viewed", "Shown in a list"}
    # By user: the supervisor's own export only.
    by_user = client.get(reverse("referrals:person_audit"), {"user": "sup"}).context["rows"]
    assert [row["kind"] for row in by_user] == ["Export"]
    # By day: nothing before today in the program's zone.
    today = timezone.localdate()
    assert (
        client.get(reverse("referrals:person_audit"), {"day_to": today - timedelta(days=1)}).context["rows"]
        == []
    )
    assert len(client.get(reverse("referrals:person_audit"), {"day_from": today}).context["rows"]) == len(
        rows
    )


def test_the_audit_pages_through_long_histories(client, personas, people):
    for n in range(120):
        AuditEntry.objects.create(
            actor=personas["supervisor"], kind=AuditEntry.Kind.SECURITY, action=f"test.{n}"
        )
    client.force_login(personas["supervisor"])
    first = client.get(reverse("referrals:person_audit"))
    assert len(first.context["rows"]) == 50 and first.context["more"]
    third = client.get(reverse("referrals:person_audit"), {"page": 3})
    assert len(third.context["rows"]) == 20 and not third.context["more"]
    seen = [
        r["what"]
        for p in (1, 2, 3)
        for r in client.get(reverse("referrals:person_audit"), {"page": p}).context["rows"]
    ]
    assert len(seen) == len(set(seen)) == 120


@pytest.mark.parametrize(
    "query", [{"day_from": "9999-12-31"}, {"day_from": "nonsense"}, {"page": "0"}, {"person": "-4"}]
)
def test_bad_filters_are_a_clear_400(client, personas, query):
    client.force_login(personas["supervisor"])
    response = client.get(reverse("referrals:person_audit"), query)
    assert response.status_code == 400
    assert 'role="alert"' in response.content.decode()


@pytest.mark.parametrize("role", ["case_manager", "dispatcher", "police_officer", "responder"])
def test_only_supervisors_read_the_audit(client, personas, role):
    client.force_login(personas[role])
    assert client.get(reverse("referrals:person_audit")).status_code == 403


def test_a_program_supervisor_reads_only_their_programs_audit_and_the_state_all_of_it(client, personas):
    program_b = factories.ProgramFactory(slug="aurora-art")
    case_manager_b = factories.UserFactory(
        username="cm-aurora", roles=["case_manager"], roles__program=program_b
    )
    bo = person_create(actor=None, name="Bo Aurora", program=program_b)
    client.force_login(case_manager_b)
    assert client.get(reverse("referrals:people"), {"q": "aurora"}).status_code == 200
    assert client.get(reverse("referrals:person", args=[bo.pk])).status_code == 200
    supervisor_a = personas["supervisor"]
    state = factories.UserFactory(username="state-sup", roles=["supervisor"], roles__statewide=True)

    client.force_login(supervisor_a)
    page = client.get(reverse("referrals:person_audit")).content.decode()
    assert "cm-aurora" not in page and f"person #{bo.pk}" not in page and "aurora" not in page
    client.force_login(state)
    page = client.get(reverse("referrals:person_audit")).content.decode()
    assert "cm-aurora" in page and f"person #{bo.pk}" in page
