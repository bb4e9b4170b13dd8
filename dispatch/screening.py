"""Screening: who may be sent. The one function that decides eligibility.

One standard for the state: the call-type catalogue (CallType) and the wording of the four
questions (ScreeningQuestion) are statewide. A program records its local changes beside them
(ProgramCallType: a call type it does not take, a different eligibility; ProgramScreeningQuestion:
its own wording), and every channel decides a call of that program with them applied.
"""

from dataclasses import dataclass, field

# The four disqualifiers call takers screen for, in the order reasons are reported.
DISQUALIFIERS = ("weapons", "violence", "medical_emergency", "police_only")

REASON_LABELS = {
    "weapons": "Weapons reported",
    "violence": "Credible threat of violence",
    "medical_emergency": "Emergency medical need",
    "police_only": "Urgent police-only need",
    "call_type_not_eligible": "Call type not eligible for community response",
    "unknown_call_type": "Call type not in the catalogue",
    "screening_incomplete": "Screening not complete",
}


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"eligible": self.eligible, "reasons": list(self.reasons)}


def call_type_eligible(call_type, local=None) -> bool:
    """Whether a call type goes to a team by default, for one program: the standard's answer
    unless the program's local change (a ProgramCallType, or None) says otherwise. A call type
    the program does not take is never eligible there."""
    if local is not None:
        if not local.taken:
            return False
        if local.eligible is not None:
            return local.eligible
    return call_type.eligible


def eligibility(call_type, screening: dict, local=None) -> Eligibility:
    """Decide whether a team may be sent without an override, and say every reason why not.

    `call_type` is the matched CallType or None when the code is not in the catalogue;
    `local` is the incident's program's change to that call type (a ProgramCallType), if any:
    a call type the program does not take, or one it makes eligible or not, answers
    `call_type_not_eligible` like the standard's own "not eligible";
    `screening` maps each disqualifier to True, False or None (not asked). Every reason
    that applies is returned, not only the first: a call with weapons reported and an
    unknown call type carries both. A question left unanswered is not a "no": the call is
    not auto-eligible, but a crime alone never disqualifies (there is no such question).
    """
    reasons = [key for key in DISQUALIFIERS if screening.get(key) is True]
    if call_type is None:
        reasons.append("unknown_call_type")
    elif not call_type_eligible(call_type, local):
        reasons.append("call_type_not_eligible")
    if any(screening.get(key) is None for key in DISQUALIFIERS):
        reasons.append("screening_incomplete")
    return Eligibility(eligible=not reasons, reasons=reasons)


# --- The standard as one program reads it -----------------------------------------------------
def local_call_type(program_id, call_type):
    """The program's change to this call type (a ProgramCallType), or None: it follows the
    standard. No query without both a program and a call type."""
    from dispatch.models import ProgramCallType

    if program_id is None or call_type is None:
        return None
    return ProgramCallType.objects.filter(program_id=program_id, call_type=call_type).first()


def call_types_for(program_id) -> list[tuple]:
    """The catalogue as a program's call takers choose from it: (CallType, eligible there),
    in code order, without the call types the program does not take. Without a program: the
    standard."""
    from dispatch.models import CallType, ProgramCallType

    local = {}
    if program_id is not None:
        local = {c.call_type_id: c for c in ProgramCallType.objects.filter(program_id=program_id)}
    rows = []
    for call_type in CallType.objects.all():
        change = local.get(call_type.pk)
        if change is not None and not change.taken:
            continue
        rows.append((call_type, call_type_eligible(call_type, change)))
    return rows


def questions_for(program_id) -> dict:
    """Each question's key → (prompt, guidance) as a program's call takers read it: the
    program's own wording where it has one, else the standard's."""
    from dispatch.models import ProgramScreeningQuestion, ScreeningQuestion

    wording = {}
    if program_id is not None:
        wording = {w.question_id: w for w in ProgramScreeningQuestion.objects.filter(program_id=program_id)}
    questions = {}
    for question in ScreeningQuestion.objects.all():
        own = wording.get(question.pk)
        questions[question.key] = (own.prompt, own.guidance) if own else (question.prompt, question.guidance)
    return questions
