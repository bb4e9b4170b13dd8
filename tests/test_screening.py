import itertools

import pytest

from dispatch.screening import DISQUALIFIERS, eligibility
from tests.factories import CallTypeFactory

ANSWERS = (True, False, None)


@pytest.fixture
def eligible_type(db):
    return CallTypeFactory(code="WELFARE", eligible=True)


@pytest.fixture
def ineligible_type(db):
    return CallTypeFactory(code="ASSAULT", eligible=False)


def expected_reasons(answers: dict, call_type) -> list[str]:
    reasons = [key for key in DISQUALIFIERS if answers[key] is True]
    if call_type is None:
        reasons.append("unknown_call_type")
    elif not call_type.eligible:
        reasons.append("call_type_not_eligible")
    if any(answers[key] is None for key in DISQUALIFIERS):
        reasons.append("screening_incomplete")
    return reasons


def test_a_clean_screen_on_an_eligible_call_type_is_eligible(eligible_type):
    result = eligibility(eligible_type, dict.fromkeys(DISQUALIFIERS, False))
    assert result.eligible is True
    assert result.reasons == []


@pytest.mark.parametrize("key", DISQUALIFIERS)
def test_each_disqualifier_alone_makes_the_call_ineligible(eligible_type, key):
    answers = dict.fromkeys(DISQUALIFIERS, False) | {key: True}
    result = eligibility(eligible_type, answers)
    assert result.eligible is False
    assert result.reasons == [key]


@pytest.mark.parametrize("key", DISQUALIFIERS)
def test_an_unanswered_question_is_not_a_no(eligible_type, key):
    answers = dict.fromkeys(DISQUALIFIERS, False) | {key: None}
    result = eligibility(eligible_type, answers)
    assert result.eligible is False
    assert result.reasons == ["screening_incomplete"]


def test_a_call_type_marked_not_eligible_says_so(ineligible_type):
    result = eligibility(ineligible_type, dict.fromkeys(DISQUALIFIERS, False))
    assert result.reasons == ["call_type_not_eligible"]


def test_an_unknown_call_type_says_so(db):
    result = eligibility(None, dict.fromkeys(DISQUALIFIERS, False))
    assert result.reasons == ["unknown_call_type"]


def test_every_reason_at_once_is_reported_in_order(ineligible_type):
    answers = {"weapons": True, "violence": True, "medical_emergency": True, "police_only": None}
    result = eligibility(ineligible_type, answers)
    assert result.reasons == [
        "weapons",
        "violence",
        "medical_emergency",
        "call_type_not_eligible",
        "screening_incomplete",
    ]
    result = eligibility(None, answers)
    assert result.reasons == [
        "weapons",
        "violence",
        "medical_emergency",
        "unknown_call_type",
        "screening_incomplete",
    ]


@pytest.mark.parametrize("kind", ["eligible", "ineligible", "unknown"])
def test_every_combination_of_answers_and_call_type(kind, eligible_type, ineligible_type):
    call_type = {"eligible": eligible_type, "ineligible": ineligible_type, "unknown": None}[kind]
    for combo in itertools.product(ANSWERS, repeat=4):
        answers = dict(zip(DISQUALIFIERS, combo, strict=True))
        result = eligibility(call_type, answers)
        reasons = expected_reasons(answers, call_type)
        assert result.reasons == reasons, answers
        assert result.eligible is (not reasons)
