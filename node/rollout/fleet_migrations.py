"""Migration facts for stage.sh and migrate.sh, from Django's own loader and executor.

Run with a release's Python, in that release, with the app's environment (as the app user):
  fleet_migrations.py known              every migration this release's code has, "label.name"
  fleet_migrations.py applied            the migrations the database has applied, "label.name"
  fleet_migrations.py unapply-plan L:N…  the backwards plan to those targets (N "zero" = none),
                                          one "label.name" a line; exit 3 naming every
                                          irreversible operation, before anything changes
Uses only APIs present from Django 3.2 to 5.x (the loader, the recorder, the executor's plan).
"""
import sys

import django

django.setup()

from django.db import DEFAULT_DB_ALIAS, connections  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from django.db.migrations.loader import MigrationLoader  # noqa: E402
from django.db.migrations.recorder import MigrationRecorder  # noqa: E402

IRREVERSIBLE = 3


def known():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for label, name in sorted(loader.graph.nodes):
        print("%s.%s" % (label, name))


def applied():
    recorder = MigrationRecorder(connections[DEFAULT_DB_ALIAS])
    if recorder.has_table():
        for label, name in sorted(recorder.applied_migrations()):
            print("%s.%s" % (label, name))


def unapply_plan(specs):
    targets = []
    for spec in specs:
        label, _, name = spec.partition(":")
        targets.append((label, None if name == "zero" else name))
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    problems = []
    for migration, backwards in executor.migration_plan(targets):
        key = "%s.%s" % (migration.app_label, migration.name)
        if not backwards:
            problems.append("%s would be applied, not unapplied" % key)
        for operation in migration.operations:
            if not operation.reversible:
                problems.append("%s cannot be reversed (%s)" % (key, operation.describe()))
        print(key)
    if problems:
        for problem in problems:
            print("IRREVERSIBLE " + problem, file=sys.stderr)
        sys.exit(IRREVERSIBLE)


COMMANDS = {"known": known, "applied": applied}

if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] in COMMANDS and len(sys.argv) == 2:
        COMMANDS[sys.argv[1]]()
    elif len(sys.argv) >= 3 and sys.argv[1] == "unapply-plan":
        unapply_plan(sys.argv[2:])
    else:
        sys.exit("usage: fleet_migrations.py known | applied | unapply-plan LABEL:NAME...")
