"""Which program a new record belongs to, and the refusal of links across programs."""

from dispatch.models import Program
from dispatch.programs import sole_program
from dispatch.roles import program_ids_for
from dispatch.services.conflicts import ServiceInvalid


def program_resolve(program=None, *, actor=None, action: str | None = None) -> Program:
    """The program a new record goes into: `program` when given (a Program, an id or a slug:
    whether the caller may write there is the view's question, asked with dispatch.roles.may),
    else the actor's only program for `action`, else the deployment's only program. Refuses
    (ServiceInvalid on `program`) an unknown program and a record left unplaced among several."""
    if program is not None:
        if not isinstance(program, Program):
            lookup = (
                {"slug": program} if isinstance(program, str) and not program.isdigit() else {"pk": program}
            )
            program = Program.objects.filter(**lookup).first()
        if program is None:
            raise ServiceInvalid("program", "No such program.")
        return program
    ids = program_ids_for(actor, action) if actor is not None and action is not None else None
    if ids is not None and len(ids) == 1:
        return Program.objects.get(pk=next(iter(ids)))
    only = sole_program()
    if only is None:
        raise ServiceInvalid("program", "Say which program this is for.")
    return only


def program_same(program_id, other, what: str, field: str = "program") -> None:
    """Refuse (ServiceInvalid on `program`) to link `other` (a record with a program) to a
    record of `program_id`: a unit of program B on program A's incident, B's person on A's
    follow-up."""
    if other is not None and other.program_id != program_id:
        raise ServiceInvalid(field, f"{what} belongs to another program.")
