"""One standard for screening: the statewide call-type catalogue and question wording, and each
program's local changes beside them.

Every change here is written with its audit entry (AuditEntry.Kind.ADMINISTRATION) in one
transaction, as the other administration changes are. Who may make which change is the views'
to ask (dispatch.roles: the standard is a statewide supervisor's, a program's changes its own
supervisors'); these functions decide what a change may be. A change already decided for a
call keeps it: an incident's eligibility is what screening found when it was taken, and reports
count it so.
"""

from django.db import IntegrityError, transaction

from dispatch.models import AuditEntry, CallType, ProgramCallType, ProgramScreeningQuestion, ScreeningQuestion
from dispatch.services.audit import audit_record
from dispatch.services.conflicts import ServiceInvalid

CALL_TYPE_FIELDS = ("code", "name", "eligible", "apco_code", "guidance")


def _audit(actor, action: str, target: str, **detail) -> None:
    audit_record(
        actor=actor, kind=AuditEntry.Kind.ADMINISTRATION, action=action, target=target, detail=detail
    )


def _changes(instance, values: dict) -> dict:
    return {
        name: [getattr(instance, name), value]
        for name, value in values.items()
        if getattr(instance, name) != value
    }


# --- The standard ---------------------------------------------------------------------------------
def call_type_save(*, actor, call_type_id=None, values: dict) -> CallType:
    """Add a call type to the statewide catalogue (no `call_type_id`) or change one. `values`
    holds CALL_TYPE_FIELDS, checked by the form (dispatch.forms.CallTypeForm); a code another
    call type has is refused here too, for two supervisors saving at once (ServiceInvalid on
    `code`)."""
    values = {name: values[name] for name in CALL_TYPE_FIELDS if name in values}
    with transaction.atomic():
        if call_type_id is None:
            call_type = CallType(**values)
            changes = {name: [None, value] for name, value in values.items()}
        else:
            call_type = CallType.objects.select_for_update().get(pk=call_type_id)
            changes = _changes(call_type, values)
            for name, value in values.items():
                setattr(call_type, name, value)
        try:
            with transaction.atomic():
                call_type.save()
        except IntegrityError as exc:
            raise ServiceInvalid("code", f"{call_type.code} is already in the catalogue.") from exc
        if changes:
            verb = "create" if call_type_id is None else "update"
            _audit(actor, f"standard.call_type.{verb}", f"call type {call_type.code}", changes=changes)
    return call_type


def screening_question_save(*, actor, question_id, prompt: str, guidance: str) -> ScreeningQuestion:
    """Reword one of the four questions for the whole state (programs with their own wording
    keep it). An empty prompt is refused (ServiceInvalid on `prompt`)."""
    prompt, guidance = prompt.strip(), guidance.strip()
    if not prompt:
        raise ServiceInvalid("prompt", "Write the question as the call taker asks it.")
    with transaction.atomic():
        question = ScreeningQuestion.objects.select_for_update().get(pk=question_id)
        changes = _changes(question, {"prompt": prompt, "guidance": guidance})
        if changes:
            question.prompt, question.guidance = prompt, guidance
            question.save(update_fields=["prompt", "guidance"])
            _audit(actor, "standard.question.update", f"question {question.key}", changes=changes)
    return question


# --- A program's local changes --------------------------------------------------------------------
def program_call_type_set(
    *, actor, program, call_type_id, taken: bool, eligible: bool | None, note: str
) -> ProgramCallType | None:
    """Record how `program` differs from the standard on one call type: it does not take it
    (`taken` False), or it decides eligibility otherwise (`eligible` True/False; None: as the
    standard). A change that says nothing different from the standard removes the program's
    row (None is returned): the program follows the standard again. Refuses an eligibility
    for a call type the program does not take, and a change without its reason (ServiceInvalid
    on `eligible` / `note`)."""
    note = note.strip()
    if not taken and eligible is not None:
        raise ServiceInvalid(
            "eligible", "A call type the program does not take has no eligibility of its own."
        )
    with transaction.atomic():
        call_type = CallType.objects.get(pk=call_type_id)
        if eligible == call_type.eligible:
            eligible = None  # the same as the standard: follow it, also when the standard moves
        follows_standard = taken and eligible is None
        if not follows_standard and not note:
            raise ServiceInvalid("note", "Say why the program differs from the standard here.")
        existing = (
            ProgramCallType.objects.select_for_update().filter(program=program, call_type=call_type).first()
        )
        before = (
            {"taken": existing.taken, "eligible": existing.eligible, "note": existing.note}
            if existing
            else {"taken": True, "eligible": None, "note": ""}
        )
        after = {"taken": taken, "eligible": eligible, "note": note if not follows_standard else ""}
        changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
        target = f"program {program.slug} call type {call_type.code}"
        if follows_standard:
            if existing is not None:
                existing.delete()
                _audit(actor, "program.call_type.standard", target, program=program.slug, changes=changes)
            return None
        change = existing or ProgramCallType(program=program, call_type=call_type)
        change.taken, change.eligible, change.note, change.updated_by = taken, eligible, note, actor
        try:
            with transaction.atomic():
                change.save()
        except IntegrityError:  # another supervisor recorded one at the same moment: change theirs
            change = ProgramCallType.objects.select_for_update().get(program=program, call_type=call_type)
            change.taken, change.eligible, change.note, change.updated_by = taken, eligible, note, actor
            change.save()
        if changes:
            _audit(actor, "program.call_type.change", target, program=program.slug, changes=changes)
    return change


def program_question_set(
    *, actor, program, question_id, prompt: str, guidance: str
) -> ProgramScreeningQuestion | None:
    """Give `program` its own wording of one question. An empty prompt, or the standard's
    wording word for word, removes the program's wording (None is returned): its call takers
    read the standard's again, and follow it when it is reworded."""
    prompt, guidance = prompt.strip(), guidance.strip()
    with transaction.atomic():
        question = ScreeningQuestion.objects.get(pk=question_id)
        existing = (
            ProgramScreeningQuestion.objects.select_for_update()
            .filter(program=program, question=question)
            .first()
        )
        target = f"program {program.slug} question {question.key}"
        before = {"prompt": existing.prompt, "guidance": existing.guidance} if existing else None
        if not prompt or (prompt == question.prompt and guidance == question.guidance):
            if existing is not None:
                existing.delete()
                _audit(actor, "program.question.standard", target, program=program.slug, before=before)
            return None
        wording = existing or ProgramScreeningQuestion(program=program, question=question)
        if before == {"prompt": prompt, "guidance": guidance}:
            return wording
        wording.prompt, wording.guidance, wording.updated_by = prompt, guidance, actor
        try:
            with transaction.atomic():
                wording.save()
        except IntegrityError:
            wording = ProgramScreeningQuestion.objects.select_for_update().get(
                program=program, question=question
            )
            wording.prompt, wording.guidance, wording.updated_by = prompt, guidance, actor
            wording.save()
        _audit(
            actor,
            "program.question.reword",
            target,
            program=program.slug,
            before=before,
            after={"prompt": prompt, "guidance": guidance},
        )
    return wording
