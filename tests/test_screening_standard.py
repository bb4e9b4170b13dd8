"""One standard for screening across programs: the statewide catalogue and questions, each
program's local changes beside them (audited), the intake form in the program's own words, and
the supervisors' page that shows them side by side — each page for the roles that may, and
only the caller's programs."""

import pytest
from django.utils import timezone

from dispatch import services
from dispatch.forms import IntakeForm
from dispatch.models import (
    AuditEntry,
    CallType,
    Incident,
    ProgramCallType,
    ProgramScreeningQuestion,
    ScreeningQuestion,
)
from dispatch.programs import first_program
from dispatch.screening import DISQUALIFIERS, call_types_for, eligibility, questions_for
from dispatch.services import IncidentFields, ServiceInvalid, incident_create
from tests import factories

CLEAN = dict.fromkeys(DISQUALIFIERS, False)


@pytest.fixture
def state(db, call_types):
    """Two programs (the deployment's first, Denver, and Aurora), a supervisor of each, a state
    supervisor of every program and a dispatcher."""
    denver = first_program()
    aurora = factories.ProgramFactory(slug="aurora-art", name="Aurora ART")
    return {
        "denver": denver,
        "aurora": aurora,
        "denver_sup": factories.UserFactory(username="dsup", roles=["supervisor"], roles__program=denver),
        "aurora_sup": factories.UserFactory(username="asup", roles=["supervisor"], roles__program=aurora),
        "state_sup": factories.UserFactory(username="ssup", roles=["supervisor"], roles__statewide=True),
        "dispatcher": factories.UserFactory(username="d1", roles=["dispatcher"], roles__program=aurora),
        **call_types,
    }


def _incident(program, call_type="WELFARE", **screening):
    answers = {f"screen_{key}": value for key, value in (CLEAN | screening).items()}
    fields = IncidentFields(
        source="911",
        call_type_code=call_type,
        received_at=timezone.now(),
        address="1 Colfax Ave",
        **answers,
    )
    return incident_create(fields=fields, actor=None, program=program, geocode=False)


# --- The rule ----------------------------------------------------------------------------------
def test_a_call_type_the_program_does_not_take_is_not_eligible_there(state):
    local = ProgramCallType(program=state["aurora"], call_type=state["TRESPASS"], taken=False)
    assert eligibility(state["TRESPASS"], CLEAN).eligible is True
    assert eligibility(state["TRESPASS"], CLEAN, local).reasons == ["call_type_not_eligible"]


def test_a_program_may_make_a_call_type_eligible_or_not_against_the_standard(state):
    made_eligible = ProgramCallType(program=state["aurora"], call_type=state["ASSAULT"], eligible=True)
    assert eligibility(state["ASSAULT"], CLEAN).eligible is False
    assert eligibility(state["ASSAULT"], CLEAN, made_eligible).eligible is True
    # A disqualifier still disqualifies: the local change is about the call type only.
    answers = CLEAN | {"weapons": True}
    assert eligibility(state["ASSAULT"], answers, made_eligible).reasons == ["weapons"]


def test_an_incident_is_screened_with_its_programs_changes(state):
    services.program_call_type_set(
        actor=state["aurora_sup"],
        program=state["aurora"],
        call_type_id=state["TRESPASS"].pk,
        taken=False,
        eligible=None,
        note="Aurora police keep trespass calls.",
    )
    in_aurora = _incident(state["aurora"], "TRESPASS")
    in_denver = _incident(state["denver"], "TRESPASS")
    assert in_aurora.eligible is False
    assert in_aurora.eligibility_reasons == ["call_type_not_eligible"]
    assert in_denver.eligible is True


# --- The services: audited, refusing what makes no sense ----------------------------------------
def test_a_local_change_is_recorded_with_its_audit_entry(state):
    change = services.program_call_type_set(
        actor=state["aurora_sup"],
        program=state["aurora"],
        call_type_id=state["ASSAULT"].pk,
        taken=True,
        eligible=True,
        note="Our team is trained for it.",
    )
    assert change.eligible is True
    entry = AuditEntry.objects.get(action="program.call_type.change")
    assert entry.actor == state["aurora_sup"]
    assert entry.target == "program aurora-art call type ASSAULT"
    assert entry.detail["changes"]["eligible"] == [None, True]


def test_a_change_back_to_the_standard_removes_the_local_row(state):
    args = dict(actor=state["aurora_sup"], program=state["aurora"], call_type_id=state["WELFARE"].pk)
    services.program_call_type_set(**args, taken=False, eligible=None, note="Not ours.")
    assert services.program_call_type_set(**args, taken=True, eligible=None, note="") is None
    assert not ProgramCallType.objects.exists()
    assert AuditEntry.objects.filter(action="program.call_type.standard").count() == 1


@pytest.mark.parametrize(
    "taken, eligible, note, field",
    [(False, True, "x", "eligible"), (False, None, "", "note"), (True, True, "  ", "note")],
)
def test_a_nonsensical_local_change_is_refused_and_nothing_is_written(state, taken, eligible, note, field):
    with pytest.raises(ServiceInvalid) as refused:
        services.program_call_type_set(
            actor=state["aurora_sup"],
            program=state["aurora"],
            call_type_id=state["ASSAULT"].pk,
            taken=taken,
            eligible=eligible,
            note=note,
        )
    assert refused.value.field == field
    assert not ProgramCallType.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_program_words_a_question_its_own_way_and_can_go_back(state):
    question = ScreeningQuestion.objects.get(key="weapons")
    args = dict(actor=state["aurora_sup"], program=state["aurora"], question_id=question.pk)
    services.program_question_set(**args, prompt="Is anyone armed, with anything?", guidance="")
    assert questions_for(state["aurora"].pk)["weapons"][0] == "Is anyone armed, with anything?"
    assert questions_for(state["denver"].pk)["weapons"][0] == question.prompt
    assert AuditEntry.objects.filter(action="program.question.reword").count() == 1
    assert services.program_question_set(**args, prompt="", guidance="") is None
    assert questions_for(state["aurora"].pk)["weapons"][0] == question.prompt
    assert not ProgramScreeningQuestion.objects.exists()


def test_the_standard_is_changed_through_an_audited_service(state):
    services.call_type_save(
        actor=state["state_sup"],
        call_type_id=state["WELFARE"].pk,
        values={"code": "WELFARE", "name": "Welfare check", "eligible": True, "apco_code": ""},
    )
    entry = AuditEntry.objects.get(action="standard.call_type.update")
    assert entry.detail["changes"]["name"][1] == "Welfare check"


# --- The intake form reads the program's wording and catalogue -----------------------------------
def test_the_intake_form_asks_the_programs_own_wording_and_hides_what_it_does_not_take(state):
    question = ScreeningQuestion.objects.get(key="violence")
    services.program_question_set(
        actor=state["aurora_sup"],
        program=state["aurora"],
        question_id=question.pk,
        prompt="Has anyone threatened to hurt someone today?",
        guidance="Ask the caller, then anyone beside them.",
    )
    services.program_call_type_set(
        actor=state["aurora_sup"],
        program=state["aurora"],
        call_type_id=state["TRESPASS"].pk,
        taken=False,
        eligible=None,
        note="Police keep it.",
    )
    aurora_form = IntakeForm(program=state["aurora"])
    assert aurora_form.fields["screen_violence"].label == "Has anyone threatened to hurt someone today?"
    assert aurora_form.fields["screen_violence"].help_text == "Ask the caller, then anyone beside them."
    assert "TRESPASS" not in dict(aurora_form.fields["call_type"].choices)
    denver_form = IntakeForm(program=state["denver"])
    assert denver_form.fields["screen_violence"].label == question.prompt
    assert "TRESPASS" in dict(denver_form.fields["call_type"].choices)
    assert [ct.code for ct, _ in call_types_for(state["aurora"].pk)] == ["ASSAULT", "WELFARE"]


# --- The supervisors' page, side by side --------------------------------------------------------
def test_the_state_supervisor_sees_the_standard_and_every_programs_changes_side_by_side(client, state):
    services.program_call_type_set(
        actor=state["aurora_sup"],
        program=state["aurora"],
        call_type_id=state["TRESPASS"].pk,
        taken=False,
        eligible=None,
        note="Aurora police keep trespass calls.",
    )
    client.force_login(state["state_sup"])
    html = client.get("/dispatch/supervisor/").content.decode()
    assert "Aurora ART" in html and state["denver"].name in html
    assert 'data-program="aurora-art" data-call-type="TRESPASS" data-state="not_taken"' in html
    assert f'data-program="{state["denver"].slug}" data-call-type="TRESPASS" data-state="standard"' in html
    assert "Aurora police keep trespass calls." in html
    assert "Add a call type" in html  # the standard is theirs to change


def test_a_program_supervisor_sees_only_their_program_and_may_not_change_the_standard(client, state):
    services.program_call_type_set(
        actor=state["aurora_sup"],
        program=state["aurora"],
        call_type_id=state["TRESPASS"].pk,
        taken=False,
        eligible=None,
        note="Aurora police keep trespass calls.",
    )
    client.force_login(state["denver_sup"])
    html = client.get("/dispatch/supervisor/").content.decode()
    assert "aurora-art" not in html and "Aurora police keep" not in html
    assert "Add a call type" not in html
    welfare = state["WELFARE"]
    assert client.get(f"/dispatch/supervisor/call-types/{welfare.pk}/").status_code == 403
    response = client.post(f"/dispatch/supervisor/call-types/{welfare.pk}/", {"code": "WELFARE", "name": "W"})
    assert response.status_code == 403
    welfare.refresh_from_db()
    assert welfare.eligible is True
    question = ScreeningQuestion.objects.get(key="weapons")
    assert client.post(f"/dispatch/supervisor/screening/{question.pk}/", {"prompt": "?"}).status_code == 403
    # Another program's changes are not found, as anything not visible.
    url = f"/dispatch/supervisor/programs/aurora-art/call-types/{welfare.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"taken": "0", "note": "mine now"}).status_code == 404
    assert ProgramCallType.objects.count() == 1


def test_a_program_supervisor_records_a_local_change_from_the_page(client, state):
    client.force_login(state["aurora_sup"])
    url = f"/dispatch/supervisor/programs/aurora-art/call-types/{state['ASSAULT'].pk}/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"taken": "1", "eligible": "eligible", "note": ""})
    assert response.status_code == 400
    assert b"Say why the program differs" in response.content
    response = client.post(url, {"taken": "1", "eligible": "eligible", "note": "Trained for it."})
    assert response.status_code == 302
    change = ProgramCallType.objects.get()
    assert (change.program, change.eligible) == (state["aurora"], True)
    assert change.updated_by == state["aurora_sup"]


def test_a_program_supervisor_rewords_a_question_from_the_page(client, state):
    client.force_login(state["aurora_sup"])
    question = ScreeningQuestion.objects.get(key="medical_emergency")
    url = f"/dispatch/supervisor/programs/aurora-art/screening/{question.pk}/"
    response = client.post(url, {"prompt": "Does anyone need an ambulance right now?", "guidance": ""})
    assert response.status_code == 302
    assert ProgramScreeningQuestion.objects.get().prompt == "Does anyone need an ambulance right now?"


def test_roles_that_may_not_change_screening_get_403(client, state, personas):
    welfare = state["WELFARE"]
    urls = [
        "/dispatch/supervisor/",
        f"/dispatch/supervisor/programs/aurora-art/call-types/{welfare.pk}/",
        f"/dispatch/supervisor/call-types/{welfare.pk}/",
    ]
    for user in [state["dispatcher"], personas["case_manager"], personas["responder"], personas["nobody"]]:
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403, (user, url)


def test_in_a_one_program_deployment_its_supervisor_keeps_the_standard(client, personas, call_types):
    client.force_login(personas["supervisor"])
    response = client.post("/dispatch/supervisor/call-types/new/", {"code": "loiter", "name": "Loitering"})
    assert response.status_code == 302
    assert CallType.objects.filter(code="LOITER").exists()


def test_a_statewide_desk_chooses_the_program_and_reads_its_wording(client, state):
    question = ScreeningQuestion.objects.get(key="weapons")
    services.program_question_set(
        actor=state["aurora_sup"],
        program=state["aurora"],
        question_id=question.pk,
        prompt="Is anyone armed, with anything?",
        guidance="",
    )
    desk = factories.UserFactory(username="d988", roles=["dispatcher"], roles__statewide=True)
    client.force_login(desk)
    html = client.get("/dispatch/intake/form/", {"program": "aurora-art"}).content.decode()
    assert "Is anyone armed, with anything?" in html
    assert 'name="program"' in html
    html = client.get("/dispatch/intake/form/", {"program": state["denver"].slug}).content.decode()
    assert "Is anyone armed, with anything?" not in html and question.prompt in html
    # Saving a call without choosing the program is a form error, and nothing is written.
    data = {"source": "988", "call_type": "WELFARE", "address": "1 Colfax Ave"}
    data.update({f"screen_{key}": "no" for key in DISQUALIFIERS})
    response = client.post("/dispatch/intake/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 422  # the console's answer to a form to correct
    assert "Choose the program the call is for." in response.content.decode()
    assert not Incident.objects.exists()
    response = client.post("/dispatch/intake/", {**data, "program": "aurora-art"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert Incident.objects.get().program == state["aurora"]


def test_the_intake_form_of_another_program_is_not_drawn_for_a_program_dispatcher(client, state):
    client.force_login(state["dispatcher"])  # Aurora's
    html = client.get("/dispatch/intake/form/", {"program": state["denver"].slug}).content.decode()
    assert 'name="program"' not in html  # one program: theirs, whatever is asked
    assert client.get("/dispatch/intake/form/").status_code == 200
    client.force_login(state["aurora_sup"])
    assert client.get("/dispatch/intake/form/").status_code == 200
    client.force_login(factories.UserFactory(username="cm9", roles=["case_manager"]))
    assert client.get("/dispatch/intake/form/").status_code == 403
    client.logout()
    assert client.get("/dispatch/intake/form/").status_code == 302
