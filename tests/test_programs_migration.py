"""The migration that brought programs (dispatch 0018/0019, referrals 0008/0009), on a copy of
the demo as it was before it: every row and every link is kept, all of it lands in the first
program, and each person's role group becomes their role there.

tests/fixtures/demo_before_programs.json.gz is `load_demo`'s data dumped (dumpdata
--natural-foreign) from the code before programs; it is loaded here with the models of that
time, then migrated forward."""

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
from django.core import serializers
from django.core.serializers.python import Deserializer as PythonDeserializer
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils.dateparse import parse_datetime

FIXTURE = Path(__file__).parent / "fixtures" / "demo_before_programs.json.gz"
BEFORE = [
    ("dispatch", "0017_worker_chain_and_webhooks"),
    ("referrals", "0007_policereferral_officer_status"),
    ("field", "0004_received_at"),
]
ROLE_GROUPS = {"responder", "dispatcher", "police_officer", "case_manager", "supervisor"}
# Of the records the migration places in a program, the models with a `program` of their own.
IN_A_PROGRAM = {
    "dispatch.incident",
    "dispatch.unit",
    "dispatch.assignment",
    "dispatch.shift",
    "dispatch.alert",
    "dispatch.event",
    "dispatch.cliniciantransfer",
    "dispatch.reportsums",
    "referrals.person",
    "referrals.policereferral",
    "referrals.followup",
    "dispatch.apiclient",
}


def _same(now, before) -> bool:
    """Equal, a timestamp written with or without its (zero) milliseconds alike."""
    if isinstance(now, str) and isinstance(before, str) and now != before:
        now_at, before_at = parse_datetime(now), parse_datetime(before)
        return now_at is not None and now_at == before_at
    return now == before


def _auto_now_fields(model) -> set[str]:
    # Loading a fixture sets these to the moment of loading (Django's pre_save), as loaddata does.
    return {f.name for f in model._meta.fields if getattr(f, "auto_now", False)}


class _HistoricalDeserializer(PythonDeserializer):
    """Django's deserializer, reading each model as it was at the migration state given."""

    old_apps = None

    @classmethod
    def _get_model_from_node(cls, model_identifier):
        return cls.old_apps.get_model(model_identifier)


def _natural_keys_as_pks(rows, old_apps):
    """The dump names users and groups by natural key; the models of that time cannot look
    them up (their managers are not the real ones), so name them by primary key, from the dump."""
    pks = {
        "auth.user": {row["fields"]["username"]: row["pk"] for row in rows if row["model"] == "auth.user"},
        "auth.group": {row["fields"]["name"]: row["pk"] for row in rows if row["model"] == "auth.group"},
    }
    loaded = []
    for row in rows:
        model = old_apps.get_model(row["model"])
        fields = dict(row["fields"])
        for name, value in row["fields"].items():
            field = model._meta.get_field(name)
            if not field.is_relation or value is None:
                continue
            target = field.related_model._meta.label_lower
            if target not in pks:
                continue
            if field.many_to_many:
                fields[name] = [pks[target][key[0]] if isinstance(key, list) else key for key in value]
            elif isinstance(value, list):
                fields[name] = pks[target][value[0]]
        loaded.append({**row, "fields": fields})
    return loaded


def _load(deserialized):
    """Save the dump's rows as loaddata does (raw: no model's save(), every field as dumped; a row
    whose id is there already is overwritten), but a model's new rows in one INSERT a batch
    rather than one save (an UPDATE tried, then an INSERT) a row: saved one by one, the 4,078
    rows took about 5 s. bulk_create() sets the auto_now(_add) fields to now, so they are put
    back as dumped (bulk_update() sets them as given). The historical models have no signal
    receivers (those are tied to today's classes): a bulk insert skips none."""
    by_model = {}
    for obj in deserialized:
        by_model.setdefault(type(obj.object), []).append(obj)
    for model, objs in by_model.items():
        manager = model._base_manager
        there = set(manager.filter(pk__in=[obj.object.pk for obj in objs]).values_list("pk", flat=True))
        new = [obj.object for obj in objs if obj.object.pk not in there]
        stamped = [
            f.attname
            for f in model._meta.concrete_fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        ]
        dumped = [[getattr(row, name) for name in stamped] for row in new]
        manager.bulk_create(new, batch_size=500)
        if stamped and new:
            for row, values in zip(new, dumped, strict=True):
                for name, value in zip(stamped, values, strict=True):
                    setattr(row, name, value)
            manager.bulk_update(new, stamped, batch_size=500)
        for obj in objs:
            if obj.object.pk in there:
                obj.save()
            elif obj.m2m_data:
                for accessor_name, object_list in obj.m2m_data.items():
                    getattr(obj.object, accessor_name).set_base(object_list, raw=True)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_the_demo_of_before_programs_keeps_every_row_and_link_and_lands_in_the_first_program(settings):
    from django.apps import apps

    from dispatch.models import Membership, Program

    rows = json.loads(gzip.decompress(FIXTURE.read_bytes()))
    for row in rows:
        if row["model"] == "auth.group":
            # Model permissions (the admin's) are named by content type, which only today's
            # models can look up; the migration leaves them alone.
            row["fields"].pop("permissions", None)
    latest = _latest()
    executor = _migrate(BEFORE)
    try:
        old_apps = executor.loader.project_state(BEFORE).apps
        _HistoricalDeserializer.old_apps = old_apps
        with transaction.atomic():
            # Whatever an earlier test left under other ids (a role group, a user): the dump's own.
            old_apps.get_model("auth", "Group").objects.all().delete()
            usernames = [row["fields"]["username"] for row in rows if row["model"] == "auth.user"]
            old_apps.get_model("auth", "User").objects.filter(username__in=usernames).delete()
            _load(_HistoricalDeserializer(_natural_keys_as_pks(rows, old_apps)))
        # What is there before: every row of the dump.
        counts = Counter(row["model"] for row in rows)
        for label, count in counts.items():
            assert old_apps.get_model(label).objects.count() == count, label
    finally:
        _migrate(latest)

    program = Program.objects.get()
    assert (program.slug, program.time_zone) == (settings.FIRST_PROGRAM_SLUG, settings.TIME_ZONE)
    by_label = {}
    for label in counts:
        model = apps.get_model(label)
        assert model.objects.count() == counts[label], label
        dumped = json.loads(serializers.serialize("json", model.objects.all(), use_natural_foreign_keys=True))
        by_label[label] = {str(row["pk"]): row["fields"] for row in dumped}
        if label in IN_A_PROGRAM:
            assert set(model.objects.values_list("program_id", flat=True)) == {program.pk}, label

    roles_before = {}
    for row in rows:
        now = by_label[row["model"]][str(row["pk"])]
        skip = _auto_now_fields(apps.get_model(row["model"]))
        for name, value in row["fields"].items():
            if name in skip or (row["model"] == "auth.group" and name == "permissions"):
                continue
            if row["model"] == "auth.user" and name == "groups":
                # Role groups became memberships; the clinician flag stays a group.
                roles_before[row["fields"]["username"]] = {g[0] for g in value} & ROLE_GROUPS
                assert {g[0] for g in now["groups"]} == {g[0] for g in value} - ROLE_GROUPS
                continue
            assert _same(now[name], value), (row["model"], row["pk"], name, now[name], value)

    roles_now = {}
    for username, role in Membership.objects.values_list("user__username", "role"):
        roles_now.setdefault(username, set()).add(role)
    assert {u: r for u, r in roles_before.items() if r} == roles_now
    assert Membership.objects.filter(program__isnull=True).count() == 0
    assert set(Membership.objects.values_list("program_id", flat=True)) == {program.pk}
    assert roles_now["dispatcher"] == {"dispatcher"} and roles_now["supervisor"] == {"supervisor"}


@pytest.mark.django_db(transaction=True)
def test_the_migration_goes_back_to_role_groups(settings):
    from django.apps import apps

    from tests import factories

    dispatcher = factories.UserFactory(username="back-d", roles=["dispatcher", "clinician"])
    supervisor = factories.UserFactory(username="back-s", roles=["supervisor"])
    latest = _latest()
    executor = _migrate(BEFORE)
    try:
        old_apps = executor.loader.project_state(BEFORE).apps
        User = old_apps.get_model("auth", "User")
        assert set(User.objects.get(pk=dispatcher.pk).groups.values_list("name", flat=True)) == {
            "dispatcher",
            "clinician",
        }
        assert list(User.objects.get(pk=supervisor.pk).groups.values_list("name", flat=True)) == [
            "supervisor"
        ]
    finally:
        _migrate(latest)
    Membership = apps.get_model("dispatch", "Membership")
    assert set(Membership.objects.values_list("user__username", "role")) >= {
        ("back-d", "dispatcher"),
        ("back-s", "supervisor"),
    }
