"""Follow-up connections: the lifecycle, the queue, people (search, merge, audit, timeline)
and the HSDS import."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from dispatch.services import ServiceConflict
from referrals.models import (
    ContactAttempt,
    FollowUp,
    FollowUpChange,
    Location,
    Organization,
    Person,
    PersonAccess,
    PoliceReferral,
    Service,
    ServiceCapacity,
)
from referrals.services import (
    ReferralData,
    follow_up_claim,
    follow_up_create,
    follow_up_record_attempt,
    follow_up_transition,
    person_create,
    person_merge,
    referral_file,
)
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider(db):
    org = Organization.objects.create(name="Harbor Health")
    return Service.objects.create(organization=org, name="Peer navigation", service_type="peer_support")


def new_follow_up(actor, **kw):
    return follow_up_create(actor=actor, service_type=kw.pop("service_type", "housing"), consent=True, **kw)


# --- Lifecycle ------------------------------------------------------------------------------------
def test_it_is_due_48_hours_after_creation_and_keeps_its_creation_as_history(personas):
    before = timezone.now()
    follow_up = new_follow_up(personas["responder"])
    assert before + FollowUp.DEFAULT_DUE <= follow_up.due_at <= timezone.now() + FollowUp.DEFAULT_DUE
    assert follow_up.changes.get().kind == FollowUpChange.Kind.CREATED


def test_the_lifecycle_runs_open_attempted_connected_closed_with_history(personas, provider):
    cm = personas["case_manager"]
    follow_up = new_follow_up(personas["responder"])
    follow_up_claim(actor=cm, follow_up_id=follow_up.pk)
    follow_up_record_attempt(actor=cm, follow_up_id=follow_up.pk, method="phone", result="no_answer")
    follow_up.refresh_from_db()
    assert follow_up.status == "attempted"
    follow_up_record_attempt(actor=cm, follow_up_id=follow_up.pk, method="in_person", result="reached")
    with pytest.raises(ServiceConflict) as exc:
        follow_up_transition(actor=cm, follow_up_id=follow_up.pk, status="connected")
    assert exc.value.code == "provider_required"
    follow_up_transition(actor=cm, follow_up_id=follow_up.pk, status="connected", provider=provider)
    with pytest.raises(ServiceConflict) as exc:
        follow_up_transition(actor=cm, follow_up_id=follow_up.pk, status="closed")
    assert exc.value.code == "close_reason_required"
    follow_up_transition(actor=cm, follow_up_id=follow_up.pk, status="closed", close_reason="engaged")
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.close_reason, follow_up.provider) == ("closed", "engaged", provider)
    assert follow_up.closed_at is not None
    assert ContactAttempt.objects.filter(follow_up=follow_up).count() == 2
    kinds = list(follow_up.changes.values_list("kind", flat=True))
    assert kinds == ["created", "claimed", "attempt", "attempt", "status", "status"]
    assert follow_up.changes.last().changes == {
        "status": ["connected", "closed"],
        "close_reason": [None, "engaged"],
    }


@pytest.mark.parametrize(
    "path, illegal",
    [([], "open"), (["connected"], "attempted"), (["closed"], "connected"), (["closed"], "closed")],
)
def test_a_step_the_table_does_not_allow_is_refused(personas, provider, path, illegal):
    follow_up = new_follow_up(personas["responder"], provider=provider)
    for status in path:
        follow_up_transition(
            actor=None,
            follow_up_id=follow_up.pk,
            status=status,
            close_reason="declined" if status == "closed" else "",
        )
    with pytest.raises(ServiceConflict) as exc:
        follow_up_transition(actor=None, follow_up_id=follow_up.pk, status=illegal, close_reason="other")
    assert exc.value.code in ("illegal_transition", "close_reason_required")
    assert FollowUp.objects.get(pk=follow_up.pk).status == (path[-1] if path else "open")


def test_substance_use_connects_to_a_provider_only_with_written_consent(personas, provider):
    follow_up = new_follow_up(personas["responder"], service_type="substance_use", provider=provider)
    with pytest.raises(ServiceConflict) as exc:
        follow_up_transition(actor=None, follow_up_id=follow_up.pk, status="connected")
    assert exc.value.code == "written_consent_required"
    assert FollowUp.objects.get(pk=follow_up.pk).status == "open"
    FollowUp.objects.filter(pk=follow_up.pk).update(written_consent_to_share=True)
    follow_up_transition(actor=None, follow_up_id=follow_up.pk, status="connected")


def test_the_page_answers_an_illegal_transition_with_409_and_changes_nothing(client, personas, provider):
    follow_up = new_follow_up(personas["responder"])
    client.force_login(personas["case_manager"])
    url = reverse("referrals:follow_up_transition", kwargs={"follow_up_id": follow_up.pk})
    client.post(url, {"status": "closed", "close_reason": "moved"})
    response = client.post(url, {"status": "connected", "provider": provider.pk})
    assert response.status_code == 409
    assert "cannot go from closed to connected" in response.content.decode()
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.provider) == ("closed", None)
    assert client.post(url, {"status": "bogus"}).status_code == 400
    attempt = reverse("referrals:follow_up_attempt", kwargs={"follow_up_id": follow_up.pk})
    assert client.post(attempt, {"method": "phone", "result": "reached"}).status_code == 409


def test_a_case_manager_records_attempts_and_closes_from_the_page(client, personas, provider):
    follow_up = new_follow_up(personas["responder"])
    client.force_login(personas["case_manager"])
    attempt = reverse("referrals:follow_up_attempt", kwargs={"follow_up_id": follow_up.pk})
    assert (
        client.post(attempt, {"method": "text", "result": "left_message", "notes": "Sent a text"}).status_code
        == 302
    )
    assert client.post(attempt, {"method": "fax"}).status_code == 400
    status = reverse("referrals:follow_up_transition", kwargs={"follow_up_id": follow_up.pk})
    assert client.post(status, {"status": "connected", "provider": 99999}).status_code == 400
    assert client.post(status, {"status": "connected", "provider": provider.pk}).status_code == 302
    page = client.get(reverse("referrals:follow_up", kwargs={"follow_up_id": follow_up.pk})).content.decode()
    assert "Sent a text" in page and "Connected" in page and "Peer navigation" in page


def test_a_case_manager_opens_a_follow_up_and_bad_ids_are_form_errors(client, personas, provider):
    person = person_create(actor=None, name="Ana")
    client.force_login(personas["case_manager"])
    url = reverse("referrals:follow_up_new")
    bad_person = client.post(url, {"service_type": "food", "person": 99999, "consent": "on"})
    bad_provider = client.post(url, {"service_type": "food", "provider": 99999, "consent": "on"})
    assert bad_person.status_code == bad_provider.status_code == 400
    assert "No person with that id." in bad_person.content.decode()
    assert "No such provider in the directory." in bad_provider.content.decode()
    assert FollowUp.objects.count() == 0
    ok = client.post(
        url, {"service_type": "food", "person": person.pk, "provider": provider.pk, "consent": "on"}
    )
    assert ok.status_code == 302
    assert FollowUp.objects.get().person == person


# --- The queue ------------------------------------------------------------------------------------
def test_the_queue_puts_my_caseload_then_unassigned_overdue_first_with_counts(client, personas):
    cm, other = personas["case_manager"], factories.UserFactory(username="cm2", roles=["case_manager"])
    now = timezone.now()
    later_unassigned = new_follow_up(None, due_at=now + timezone.timedelta(hours=40))
    overdue_unassigned = new_follow_up(None, due_at=now - timezone.timedelta(hours=1))
    mine = new_follow_up(None, case_manager=cm, due_at=now + timezone.timedelta(hours=47))
    theirs = new_follow_up(None, case_manager=other)
    new_follow_up(None, service_type="food", case_manager=other)
    client.force_login(cm)
    response = client.get(reverse("referrals:case_manager_home"))
    ids = [f.pk for f in response.context["follow_ups"]]
    assert ids[:4] == [mine.pk, overdue_unassigned.pk, later_unassigned.pk, theirs.pk]
    assert response.context["counts"] == {"mine": 1, "unassigned": 2, "overdue": 1, "total": 5}
    content = response.content.decode()
    assert 'data-count="unassigned">2<' in content
    filtered = client.get(
        reverse("referrals:case_manager_home"), {"service_type": "food"}, HTTP_HX_REQUEST="true"
    )
    assert [f.pk for f in filtered.context["follow_ups"]] == [FollowUp.objects.get(service_type="food").pk]
    assert "<html" not in filtered.content.decode()
    unassigned = client.get(reverse("referrals:case_manager_home"), {"view": "unassigned"})
    assert {f.pk for f in unassigned.context["follow_ups"]} == {overdue_unassigned.pk, later_unassigned.pk}


def test_the_queue_filters_by_provider_status_and_person(client, personas, provider):
    ana = person_create(actor=None, name="Ana Ruiz", phone="303-555-0142")
    with_provider = new_follow_up(None, provider=provider, person=ana)
    new_follow_up(None, person=person_create(actor=None, name="Bo"))
    client.force_login(personas["case_manager"])
    home = reverse("referrals:case_manager_home")
    assert [f.pk for f in client.get(home, {"provider": provider.pk}).context["follow_ups"]] == [
        with_provider.pk
    ]
    assert [f.pk for f in client.get(home, {"q": "ruiz"}).context["follow_ups"]] == [with_provider.pk]
    assert [f.pk for f in client.get(home, {"q": "5550142"}).context["follow_ups"]] == [with_provider.pk]
    assert list(client.get(home, {"status": "closed"}).context["follow_ups"]) == []


def test_claim_is_one_click_and_a_second_claim_is_a_409(client, personas):
    follow_up = new_follow_up(None)
    client.force_login(personas["case_manager"])
    url = reverse("referrals:follow_up_claim", kwargs={"follow_up_id": follow_up.pk})
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f'id="followup-{follow_up.pk}"' in response.content.decode() and "Me" in response.content.decode()
    assert FollowUp.objects.get(pk=follow_up.pk).case_manager == personas["case_manager"]
    client.force_login(personas["supervisor"])
    rival = client.post(url, HTTP_HX_REQUEST="true")
    assert rival.status_code == 409
    assert "already has this follow-up" in rival.content.decode()
    assert FollowUp.objects.get(pk=follow_up.pk).case_manager == personas["case_manager"]


# --- People ---------------------------------------------------------------------------------------
def test_people_are_found_by_name_alias_birth_date_or_phone(client, personas):
    ana = person_create(
        actor=None, name="Ana Ruiz", alias="Red", date_of_birth=timezone.datetime(1980, 5, 17).date()
    )
    bo = person_create(actor=None, name="Bo", phone="(720) 555-0199")
    client.force_login(personas["case_manager"])
    for q, expected in [
        ("ruiz", ana),
        ("red", ana),
        ("1980-05-17", ana),
        ("7205550199", bo),
        ("555-0199", bo),
    ]:
        people = list(client.get(reverse("referrals:people"), {"q": q}).context["people"])
        assert people == [expected], q


def test_viewing_a_person_writes_an_audit_entry_that_supervisors_can_read(client, personas):
    person = person_create(actor=None, name="Ana Ruiz")
    client.force_login(personas["case_manager"])
    assert client.get(reverse("referrals:person", kwargs={"person_id": person.pk})).status_code == 200
    entry = PersonAccess.objects.get()
    assert (entry.user, entry.person, entry.kind) == (personas["case_manager"], person, "view")
    assert entry.at is not None
    client.force_login(personas["supervisor"])
    audit = client.get(reverse("referrals:person_audit"), {"person": person.pk}).content.decode()
    assert "cm" in audit and f"#{person.pk}" in audit and "Viewed" in audit
    client.force_login(personas["case_manager"])
    assert client.get(reverse("referrals:person_audit")).status_code == 403


def test_a_timeline_shows_follow_ups_referrals_and_incidents(client, personas, call_types):
    referral = referral_file(
        actor=personas["police_officer"],
        data=ReferralData(
            urgency="now",
            call_type_code="WELFARE",
            address="Union Station",
            situation="Asleep on a bench",
            officer_name="Ofc",
            officer_callback="1",
            consent_to_contact=True,
            person_name="Ana Ruiz",
            service_needed="medical",
        ),
    )
    client.force_login(personas["supervisor"])
    page = client.get(reverse("referrals:person", kwargs={"person_id": referral.person_id})).content.decode()
    assert "Police referral" in page and "Union Station" in page and "Medical follow-up" in page
    assert "Incident" in page


def outcome_for(person, responder):
    """An outcome of the field app linked to `person`, made without its services: the merge
    must find the link on its own, through Person._meta.related_objects."""
    from django.apps import apps

    from dispatch.services import assignment_create

    Outcome = apps.get_model("field", "Outcome")
    unit = factories.UnitFactory()
    assignment = assignment_create(incident_id=factories.incident().pk, callsign=unit.callsign, actor=None)
    return Outcome.objects.create(
        assignment=assignment,
        disposition=Outcome._meta.get_field("disposition").choices[0][0],
        person=person,
        recorded_by=responder,
        recorded_at=timezone.now(),
    )


def test_a_merge_keeps_every_link_of_both_records(client, personas, call_types):
    keep = person_create(actor=None, name="Ana Ruiz")
    dup = person_create(actor=None, alias="Red", phone="303-555-0142")
    kept_follow_up = new_follow_up(None, person=keep)
    moved_follow_up = new_follow_up(None, person=dup)
    referral = referral_file(
        actor=personas["police_officer"],
        data=ReferralData(
            urgency="later",
            call_type_code="WELFARE",
            address="x",
            situation="y",
            officer_name="o",
            officer_callback="1",
            consent_to_contact=True,
            person_name="A. R.",
        ),
    )
    PoliceReferral.objects.filter(pk=referral.pk).update(person=dup)
    # Every relation to Person another app defines (the field app's outcomes, say) must follow too.
    generic = [
        r
        for r in Person._meta.related_objects
        if r.related_model not in (FollowUp, PoliceReferral, PersonAccess)
    ]
    outcome = outcome_for(dup, personas["responder"]) if any(r.name == "outcomes" for r in generic) else None
    client.force_login(personas["case_manager"])
    client.get(reverse("referrals:person", kwargs={"person_id": dup.pk}))
    response = client.post(reverse("referrals:person_merge"), {"survivor": keep.pk, "merged": dup.pk})
    assert response.status_code == 302
    keep.refresh_from_db()
    dup.refresh_from_db()
    assert dup.merged_into == keep
    assert (keep.name, keep.alias, keep.phone) == ("Ana Ruiz", "Red", "303-555-0142")
    assert set(keep.follow_ups.all()) == {kept_follow_up, moved_follow_up}
    assert list(keep.police_referrals.all()) == [referral]
    assert not dup.follow_ups.exists() and not dup.police_referrals.exists()
    for relation in generic:
        assert not relation.related_model._default_manager.filter(**{relation.field.name: dup}).exists()
    if outcome is not None:
        outcome.refresh_from_db()
        assert outcome.person == keep
        assert (
            "Outcome"
            in client.get(reverse("referrals:person", kwargs={"person_id": keep.pk})).content.decode()
        )
    # The audit stays on the record that was viewed; the merge itself is audited on both.
    assert PersonAccess.objects.filter(person=dup, kind="view").count() == 1
    assert PersonAccess.objects.filter(kind="merge").count() == 2
    assert moved_follow_up.changes.filter(kind="merged").exists()
    assert (
        client.post(reverse("referrals:person_merge"), {"survivor": keep.pk, "merged": dup.pk}).status_code
        == 400
    )
    assert (
        client.post(reverse("referrals:person_merge"), {"survivor": keep.pk, "merged": keep.pk}).status_code
        == 400
    )
    assert list(client.get(reverse("referrals:people"), {"q": "red"}).context["people"]) == [keep]


def test_merging_a_record_into_itself_is_refused(personas):
    person = person_create(actor=None, name="Ana")
    with pytest.raises(ServiceConflict):
        person_merge(actor=personas["case_manager"], survivor=person, merged=person)


# --- HSDS import ----------------------------------------------------------------------------------
def write_csv(path, header, rows):
    path.write_text("\n".join([",".join(header), *[",".join(r) for r in rows]]) + "\n")


def test_import_hsds_loads_a_csv_package_and_reports_what_it_skipped(tmp_path, capsys):
    write_csv(
        tmp_path / "organizations.csv",
        ["id", "name", "description", "email", "website"],
        [
            ["org-1", "Harbor Health", "Clinic", "info@harbor.example", "https://harbor.example"],
            ["org-2", "", "", "", ""],
        ],
    )
    write_csv(
        tmp_path / "services.csv",
        ["id", "organization_id", "name", "description", "status"],
        [
            ["svc-1", "org-1", "Detox intake", "Withdrawal management", "active"],
            ["svc-2", "org-9", "Ghost service", "", "active"],
            ["svc-3", "org-1", "Shelter beds", "Emergency shelter", "active"],
            ["svc-4", "org-1", "Odd", "", "sleeping"],
        ],
    )
    write_csv(
        tmp_path / "locations.csv",
        ["id", "organization_id", "name", "latitude", "longitude"],
        [["loc-1", "org-1", "Main site", "39.74", "-104.99"], ["loc-2", "org-1", "Bad", "north", "-104"]],
    )
    write_csv(
        tmp_path / "physical_addresses.csv",
        ["id", "location_id", "address_1", "city", "state_province", "postal_code"],
        [["adr-1", "loc-1", "100 Main St", "Denver", "CO", "80202"]],
    )
    write_csv(
        tmp_path / "service_at_locations.csv",
        ["id", "service_id", "location_id"],
        [["sal-1", "svc-1", "loc-1"], ["sal-2", "svc-1", "loc-2"]],
    )
    write_csv(
        tmp_path / "service_capacity.csv",
        ["id", "service_id", "available", "maximum", "unit", "updated"],
        [
            ["cap-1", "svc-3", "4", "40", "beds", "2026-11-20T08:00:00Z"],
            ["cap-2", "svc-3", "lots", "", "beds", ""],
        ],
    )
    call_command("import_hsds", str(tmp_path))
    out = capsys.readouterr().out
    assert "organizations: 1 created, 0 updated" in out
    assert "services: 2 created, 0 updated" in out
    assert "skipped 6 row(s)" in out
    assert "skipped organizations row 2 (id org-2): no name" in out
    assert "skipped services row 2 (id svc-2): unknown organization 'org-9'" in out
    assert "unknown status 'sleeping'" in out
    assert "bad coordinates" in out
    assert "skipped service_at_locations row 2 (id sal-2): unknown location" in out
    assert "available/maximum is not a number" in out
    detox = Service.objects.get(hsds_id="svc-1")
    assert detox.service_type == "substance_use"
    assert Service.objects.get(hsds_id="svc-3").service_type == "housing"
    location = Location.objects.get(hsds_id="loc-1")
    assert (location.address_1, location.city) == ("100 Main St", "Denver")
    assert list(detox.locations.all()) == [location]
    assert ServiceCapacity.objects.get().available == 4
    # Loading it again updates, never duplicates.
    call_command("import_hsds", str(tmp_path))
    assert "organizations: 0 created, 1 updated" in capsys.readouterr().out
    assert Organization.objects.count() == 1 and Service.objects.count() == 2


def test_import_hsds_reads_nested_hsds_json(tmp_path, capsys):
    package = [
        {
            "id": "svc-10",
            "name": "Peer support line",
            "status": "active",
            "organization": {"id": "org-10", "name": "Peers United"},
            "service_at_locations": [
                {"id": "sal-10", "location": {"id": "loc-10", "name": "HQ", "latitude": 39.7}}
            ],
            "capacities": [
                {"id": "cap-10", "available": 3, "unit": {"name": "slots"}, "updated": "2026-11-21"}
            ],
        },
        {"name": "No id here"},
    ]
    path = tmp_path / "hsds.json"
    path.write_text(json.dumps(package))
    call_command("import_hsds", str(path))
    out = capsys.readouterr().out
    assert "skipped services row 2: no id" in out
    service = Service.objects.get(hsds_id="svc-10")
    assert service.service_type == "peer_support"
    assert service.locations.get().name == "HQ"
    assert service.capacities.get().unit == "slots"


def test_import_hsds_refuses_what_is_not_a_package(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_hsds", str(tmp_path / "bad.json"))
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_hsds", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="no HSDS tables"):
        call_command("import_hsds", str(tmp_path))
