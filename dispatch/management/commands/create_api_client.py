from django.core.management.base import BaseCommand, CommandError

from dispatch.models import ApiClient, Program
from dispatch.programs import sole_program
from dispatch.roles import API_ROLES
from dispatch.services import api_client_create


class Command(BaseCommand):
    help = (
        "Create an API client for a CAD or police records system and print its key (last line). "
        "It works for one program (--program SLUG; in a one-program deployment, that program by "
        "default) or for every program (--statewide: a 988 or hotline centre)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=[r.value for r in API_ROLES])
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--program", metavar="SLUG", help="The program the client works for.")
        where.add_argument("--statewide", action="store_true", help="The client works for every program.")

    def handle(self, *args, name, role, program=None, statewide=False, **options):
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f"An API client named {name!r} already exists.")
        if statewide:
            chosen = None
        elif program:
            chosen = Program.objects.filter(slug=program).first()
            if chosen is None:
                slugs = ", ".join(Program.objects.values_list("slug", flat=True))
                raise CommandError(f"No program {program!r}; the programs are: {slugs}.")
        else:
            chosen = sole_program()
            if chosen is None:
                raise CommandError(
                    "This deployment has several programs: give --program SLUG or --statewide."
                )
        client, key = api_client_create(name, role, program=chosen)
        where = f"for {chosen.slug}" if chosen is not None else "statewide"
        self.stdout.write(f"Created API client {client.name} with role {client.role}, {where}.")
        self.stdout.write("The key is shown once; store it in the client's configuration:")
        self.stdout.write(key)
