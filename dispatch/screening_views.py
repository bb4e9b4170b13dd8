"""The supervisors' pages for one standard of screening: the statewide call-type catalogue and
questions, and each program's local changes side by side. Thin: forms check the shape,
dispatch.services.screening_standard changes and audits, dispatch.screening decides."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from dispatch import services
from dispatch.forms import CallTypeForm, ProgramCallTypeForm, ProgramQuestionForm, ScreeningQuestionForm
from dispatch.models import CallType, ProgramCallType, ProgramScreeningQuestion, ScreeningQuestion
from dispatch.roles import Action, may_edit_standard, programs_for, role_required
from dispatch.screening import call_type_eligible
from dispatch.services import ServiceInvalid


def _programs(user) -> list:
    return list(programs_for(user, Action.CATALOGUE_EDIT).order_by("name", "slug"))


def _program(user, slug):
    """One of the caller's programs where they may change screening; 404 for any other."""
    return get_object_or_404(programs_for(user, Action.CATALOGUE_EDIT), slug=slug)


def _call_type_cell(call_type, change) -> dict:
    if change is None:
        state, label = "standard", "As the standard"
    elif not change.taken:
        state, label = "not_taken", "Does not take it"
    else:
        state = "eligible" if change.eligible else "not_eligible"
        label = "Eligible here" if change.eligible else "Not eligible here"
    return {
        "change": change,
        "state": state,
        "label": label,
        "eligible": call_type_eligible(call_type, change),
        "note": change.note if change else "",
    }


@role_required(Action.CATALOGUE_EDIT)
@require_GET
def catalogue(request):
    """The standard and, beside it, every one of the caller's programs: what each does not
    take, decides otherwise, or words its own way."""
    programs = _programs(request.user)
    ids = [p.pk for p in programs]
    changes = {(c.program_id, c.call_type_id): c for c in ProgramCallType.objects.filter(program_id__in=ids)}
    wordings = {
        (w.program_id, w.question_id): w for w in ProgramScreeningQuestion.objects.filter(program_id__in=ids)
    }
    call_types = [
        {
            "call_type": ct,
            "cells": [(p, _call_type_cell(ct, changes.get((p.pk, ct.pk)))) for p in programs],
        }
        for ct in CallType.objects.all()
    ]
    questions = [
        {"question": q, "cells": [(p, wordings.get((p.pk, q.pk))) for p in programs]}
        for q in ScreeningQuestion.objects.all()
    ]
    return render(
        request,
        "dispatch/supervisor_home.html",
        {
            "programs": programs,
            "call_types": call_types,
            "questions": questions,
            "may_edit_standard": may_edit_standard(request.user),
            "local_count": len(changes) + len(wordings),
        },
    )


def _standard_editor(request) -> None:
    if not may_edit_standard(request.user):
        raise PermissionDenied


def _edit_page(request, form, template: str, context: dict, save):
    """One edit form: on a valid POST `save()` changes (and audits) through the service and says
    what it did; a refusal of the service is a form error. Errors answer 400."""
    if request.method == "POST" and form.is_valid():
        try:
            done = save()
        except ServiceInvalid as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, done)
            return redirect("dispatch:supervisor_home")
    status = 400 if request.method == "POST" else 200
    return render(request, template, {"form": form, **context}, status=status)


@role_required(Action.CATALOGUE_EDIT)
@require_http_methods(["GET", "POST"])
def call_type_edit(request, pk=None):
    """The standard's call type: a statewide supervisor's (or a one-program deployment's)."""
    _standard_editor(request)
    call_type = get_object_or_404(CallType, pk=pk) if pk else None
    form = CallTypeForm(request.POST or None, instance=call_type)

    def save():
        saved = services.call_type_save(actor=request.user, call_type_id=pk, values=form.cleaned_data)
        return f"Saved {saved.code} for every program."

    return _edit_page(request, form, "dispatch/call_type_form.html", {"call_type": call_type}, save)


@role_required(Action.CATALOGUE_EDIT)
@require_http_methods(["GET", "POST"])
def screening_question_edit(request, pk):
    _standard_editor(request)
    question = get_object_or_404(ScreeningQuestion, pk=pk)
    form = ScreeningQuestionForm(request.POST or None, instance=question)

    def save():
        services.screening_question_save(
            actor=request.user,
            question_id=question.pk,
            prompt=form.cleaned_data["prompt"],
            guidance=form.cleaned_data["guidance"],
        )
        return f"Saved the question on {question.get_key_display().lower()}."

    return _edit_page(request, form, "dispatch/screening_form.html", {"question": question}, save)


@role_required(Action.CATALOGUE_EDIT)
@require_http_methods(["GET", "POST"])
def program_call_type_edit(request, slug, pk):
    """How one program differs from the standard on one call type."""
    program = _program(request.user, slug)
    call_type = get_object_or_404(CallType, pk=pk)
    change = ProgramCallType.objects.filter(program=program, call_type=call_type).first()
    form = ProgramCallTypeForm(request.POST or None, initial=ProgramCallTypeForm.initial_for(change))

    def save():
        saved = services.program_call_type_set(
            actor=request.user,
            program=program,
            call_type_id=call_type.pk,
            taken=form.cleaned_data["taken"],
            eligible=form.eligible_value(),
            note=form.cleaned_data["note"],
        )
        done = "follows the standard" if saved is None else "differs from the standard"
        return f"Saved: {program.name} {done} on {call_type.code}."

    context = {"program": program, "call_type": call_type, "change": change}
    return _edit_page(request, form, "dispatch/program_call_type_form.html", context, save)


@role_required(Action.CATALOGUE_EDIT)
@require_http_methods(["GET", "POST"])
def program_question_edit(request, slug, pk):
    """One program's own wording of one screening question."""
    program = _program(request.user, slug)
    question = get_object_or_404(ScreeningQuestion, pk=pk)
    wording = ProgramScreeningQuestion.objects.filter(program=program, question=question).first()
    initial = {"prompt": wording.prompt, "guidance": wording.guidance} if wording else {}
    form = ProgramQuestionForm(request.POST or None, initial=initial)

    def save():
        saved = services.program_question_set(
            actor=request.user,
            program=program,
            question_id=question.pk,
            prompt=form.cleaned_data["prompt"],
            guidance=form.cleaned_data["guidance"],
        )
        done = "asks the standard's question" if saved is None else "asks it in its own words"
        return f"Saved: {program.name} {done} on {question.get_key_display().lower()}."

    context = {"program": program, "question": question, "wording": wording}
    return _edit_page(request, form, "dispatch/program_question_form.html", context, save)
