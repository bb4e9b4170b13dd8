from django.core.management.base import BaseCommand, CommandError

from dispatch.models import ApiClient
from dispatch.roles import API_ROLES
from dispatch.services import api_client_create


class Command(BaseCommand):
    help = "Create an API client for a CAD or police records system and print its key (last line)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--role", required=True, choices=[r.value for r in API_ROLES])

    def handle(self, *args, name, role, **options):
        if ApiClient.objects.filter(name=name).exists():
            raise CommandError(f"An API client named {name!r} already exists.")
        client, key = api_client_create(name, role)
        self.stdout.write(f"Created API client {client.name} with role {client.role}.")
        self.stdout.write("The key is shown once; store it in the client's configuration:")
        self.stdout.write(key)
