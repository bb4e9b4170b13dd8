import pytest
from django.urls import reverse

from dispatch.models import CallType, ScreeningQuestion

LANDING = {
    "responder": "/field/",
    "dispatcher": "/dispatch/",
    "police_officer": "/referrals/officer/",
    "case_manager": "/referrals/follow-ups/",
    "supervisor": "/dispatch/supervisor/",
}


@pytest.mark.parametrize("role", LANDING)
def test_after_sign_in_each_role_lands_on_its_own_home(client, personas, role):
    client.force_login(personas[role])
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == LANDING[role]
    assert client.get(response.url).status_code == 200


def test_a_user_without_a_role_is_told_so(client, personas):
    client.force_login(personas["nobody"])
    response = client.get("/")
    assert response.status_code == 403
    assert b"No role yet" in response.content


def test_anonymous_visitors_are_sent_to_sign_in(client, db):
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    for url in LANDING.values():
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


# Each landing page with a role that may not open it.
OUTSIDERS = {
    "/field/": ["dispatcher", "police_officer", "case_manager"],
    "/dispatch/": ["responder", "police_officer", "case_manager"],
    "/referrals/officer/": ["responder", "dispatcher", "case_manager"],
    "/referrals/follow-ups/": ["responder", "police_officer", "dispatcher"],
    "/dispatch/supervisor/": ["responder", "dispatcher", "police_officer", "case_manager"],
}


@pytest.mark.parametrize("url", OUTSIDERS)
def test_a_role_that_may_not_enter_a_home_page_gets_403(client, personas, url):
    for role in OUTSIDERS[url] + ["nobody"]:
        client.force_login(personas[role])
        assert client.get(url).status_code == 403, (url, role)


def test_sign_in_with_the_form_and_sign_out(client, personas):
    response = client.post(reverse("login"), {"username": "disp", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    assert client.get("/").url == "/dispatch/"
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get("/").url.startswith(reverse("login"))


def test_a_wrong_password_shows_an_error_on_the_page(client, personas):
    response = client.post(reverse("login"), {"username": "disp", "password": "nope"})
    assert response.status_code == 200
    assert b"did not match" in response.content


# --- the catalogue: supervisors edit it ------------------------------------------------------
def test_a_supervisor_sees_the_catalogue_and_the_questions(client, personas, call_types):
    client.force_login(personas["supervisor"])
    response = client.get("/dispatch/supervisor/")
    assert response.status_code == 200
    assert b"ASSAULT" in response.content
    assert b"Does anyone at the scene have a weapon" in response.content


def test_a_supervisor_adds_a_call_type(client, personas, db):
    client.force_login(personas["supervisor"])
    response = client.post(
        "/dispatch/supervisor/call-types/new/", {"code": "loitering", "name": "Loitering", "eligible": "on"}
    )
    assert response.status_code == 302
    assert CallType.objects.get(code="LOITERING").eligible is True


def test_a_supervisor_marks_a_call_type_not_eligible(client, personas, call_types):
    client.force_login(personas["supervisor"])
    welfare = call_types["WELFARE"]
    response = client.post(f"/dispatch/supervisor/call-types/{welfare.pk}/", {"code": "WELFARE", "name": "W"})
    assert response.status_code == 302
    welfare.refresh_from_db()
    assert welfare.eligible is False


def test_a_duplicate_or_malformed_code_is_a_form_error(client, personas, call_types):
    client.force_login(personas["supervisor"])
    response = client.post("/dispatch/supervisor/call-types/new/", {"code": "welfare", "name": "Again"})
    assert response.status_code == 400
    assert b"already in the catalogue" in response.content
    response = client.post("/dispatch/supervisor/call-types/new/", {"code": "no spaces!", "name": "X"})
    assert response.status_code == 400
    assert CallType.objects.count() == 3


def test_a_supervisor_rewords_a_screening_question(client, personas, db):
    client.force_login(personas["supervisor"])
    question = ScreeningQuestion.objects.get(key="weapons")
    response = client.post(f"/dispatch/supervisor/screening/{question.pk}/", {"prompt": "Any weapons?"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.prompt == "Any weapons?"
    response = client.post(f"/dispatch/supervisor/screening/{question.pk}/", {"prompt": ""})
    assert response.status_code == 400


@pytest.mark.parametrize("role", ["dispatcher", "responder", "police_officer", "case_manager"])
def test_other_roles_may_not_edit_the_catalogue(client, personas, call_types, role):
    client.force_login(personas[role])
    welfare = call_types["WELFARE"]
    assert client.post("/dispatch/supervisor/call-types/new/", {"code": "X", "name": "X"}).status_code == 403
    edit = client.post(f"/dispatch/supervisor/call-types/{welfare.pk}/", {"code": "W", "name": "W"})
    assert edit.status_code == 403
    question = ScreeningQuestion.objects.get(key="weapons")
    assert client.post(f"/dispatch/supervisor/screening/{question.pk}/", {"prompt": "x"}).status_code == 403
    assert not CallType.objects.filter(code="X").exists()


def test_the_screening_questions_exist_without_demo_data(db):
    assert set(ScreeningQuestion.objects.values_list("key", flat=True)) == {
        "weapons",
        "violence",
        "medical_emergency",
        "police_only",
    }


def test_a_supervisor_finds_every_area_they_may_use_from_the_navigation(client, personas, db):
    client.force_login(personas["supervisor"])
    html = client.get("/dispatch/supervisor/").content.decode()
    for url in [
        "/dispatch/",
        "/referrals/follow-ups/",
        "/referrals/people/",
        "/referrals/people/audit/",
        "/referrals/directory/",
    ]:
        assert f'href="{url}"' in html, url
        assert client.get(url).status_code == 200, url


def test_the_tablet_leads_to_the_outreach_queue_of_police_referrals(client, personas, db):
    client.force_login(personas["responder"])
    html = client.get("/field/").content.decode()
    assert 'href="/referrals/outreach/"' in html
    assert client.get("/referrals/outreach/").status_code == 200


def test_the_console_shows_the_supervisors_links_only_to_a_supervisor(client, personas):
    catalogue = reverse("dispatch:supervisor_home").encode()
    client.force_login(personas["supervisor"])
    assert catalogue in client.get("/dispatch/").content
    client.force_login(personas["dispatcher"])
    assert catalogue not in client.get("/dispatch/").content


def test_the_record_audit_link_shows_only_to_whom_may_read_the_audit(client, personas):
    audit = reverse("referrals:person_audit").encode()
    client.force_login(personas["case_manager"])
    page = client.get(reverse("referrals:case_manager_home")).content
    assert audit not in page
    assert client.get(reverse("referrals:person_audit")).status_code == 403
    client.force_login(personas["supervisor"])
    assert audit in client.get(reverse("referrals:case_manager_home")).content
