"""Screening: who may be sent. The one function that decides eligibility."""

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


def eligibility(call_type, screening: dict) -> Eligibility:
    """Decide whether a team may be sent without an override, and say every reason why not.

    `call_type` is the matched CallType or None when the code is not in the catalogue;
    `screening` maps each disqualifier to True, False or None (not asked). Every reason
    that applies is returned, not only the first: a call with weapons reported and an
    unknown call type carries both. A question left unanswered is not a "no": the call is
    not auto-eligible, but a crime alone never disqualifies (there is no such question).
    """
    reasons = [key for key in DISQUALIFIERS if screening.get(key) is True]
    if call_type is None:
        reasons.append("unknown_call_type")
    elif not call_type.eligible:
        reasons.append("call_type_not_eligible")
    if any(screening.get(key) is None for key in DISQUALIFIERS):
        reasons.append("screening_incomplete")
    return Eligibility(eligible=not reasons, reasons=reasons)
