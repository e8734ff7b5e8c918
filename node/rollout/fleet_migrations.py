"""Migration facts and runs for stage.sh and migrate.sh, from Django's own loader and executor.

Run with a release's Python, in that release, with the app's environment (as the app user):
  fleet_migrations.py known              every migration this release's code has, "label.name"
  fleet_migrations.py applied            the migrations the database has applied, "label.name"
  fleet_migrations.py classify APP TAG ACKS PRIOR EXPAND_OUT [SMALL_ROWS [SERVING [RELAX_OUT]]]
        classifies every pending migration of this release (docs/rollout.md, "Migrations around
        the switch") by what the serving code meets (SERVING: a file of the migrations the
        serving release knows, "none" when none serves, "-" (default) the applied ones), prints
        one `fleet-migrations: {json}` line (PRIOR: a file of entries a rollback's
        `unapply-plan` wrote, or "-"), writes the migrations the expand step applies to
        EXPAND_OUT; exit 4 with one line per refusal on stderr, before anything changes.
        SMALL_ROWS (default 0): a table of at most that many rows may take a locking operation;
        RELAX_OUT: the NOT NULL columns contract drops that expand makes nullable first
  fleet_migrations.py unapply-plan ACKS SMALL_ROWS ENTRIES_OUT EXPAND_OUT L:N...
        the backwards plan to those targets (N "zero" = none), one "label.name" a line; exit 3
        naming every irreversible operation, exit 4 for a refused one (a column or table it
        brings back empty), before anything changes; ENTRIES_OUT gets the plan's classes (JSON),
        EXPAND_OUT the migrations unapplied before the switch
  fleet_migrations.py migrate LOCK STATEMENT RETRIES forwards|backwards KEY...
  fleet_migrations.py migrate LOCK STATEMENT RETRIES to L:N...|all
        applies (or unapplies) exactly those migrations, or migrates to the targets, with
        lock_timeout/statement_timeout (PostgreSQL) or lock_wait_timeout (MySQL) set on the
        migration's connection, retried RETRIES times with back-off when a lock is not granted;
        forwards keeps a constant default as the column's database default (KEPT-DEFAULT lines)
  fleet_migrations.py drop-defaults LOCK STATEMENT RETRIES FILE
        drops the kept defaults FILE lists, TABLE.COLUMN a line (contract), with the same limits
  fleet_migrations.py relax-columns LOCK STATEMENT RETRIES FILE
        makes nullable (with the field's constant default) the columns FILE lists, as classify's
        RELAX_OUT wrote them (expand), with the same limits
ACKS: the migrations apps.yaml acknowledges for the app, "label.name,label.name" or "-".
Uses only APIs present from Django 3.2 to 5.x (the loader, the recorder, the executor, the
operations' state_forwards/database_forwards, the schema editor's collected SQL).
"""
import copy
import json
import re
import sys
import time

import django

django.setup()

from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal  # noqa: E402
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, models  # noqa: E402
from django.db.backends.signals import connection_created  # noqa: E402
from django.db.migrations import operations as ops  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from django.db.migrations.loader import MigrationLoader  # noqa: E402
from django.db.migrations.recorder import MigrationRecorder  # noqa: E402

IRREVERSIBLE = 3
REFUSED = 4
LOCK_NOT_GRANTED = 5

BEFORE, AFTER, UNSAFE = "before-switch", "after-switch", "unsafe"
EXPAND, CONTRACT, REFUSED_WHEN = "expand", "contract", "refused"
# The attribute a migration declares its own place with (its author knows best), and the
# values of django-safemigrate's `safe` attribute, honoured as well.
DECLARATION = "fleet_safe"
SAFEMIGRATE = {"before_deploy": BEFORE, "always": BEFORE, "after_deploy": AFTER}
NOT_PROVIDED = models.NOT_PROVIDED
# The rewrite of an AddField with a constant default: the column keeps it as its database
# default from expand until contract (django-pg-zero-downtime-migrations' keep-default).
KEEP_DEFAULT = "keep-default"
# The rewrite of a RemoveField of a NOT NULL column the serving code knows: expand makes the
# column nullable (and gives it the field's constant default, if any) so the new code's inserts,
# which leave it out, succeed; contract drops it, after the last switch.
NULLABLE_UNTIL_CONTRACT = "nullable-until-contract"


def connection():
    return connections[DEFAULT_DB_ALIAS]


def key_of(migration):
    return "%s.%s" % (migration.app_label, migration.name)


def known():
    """Every migration this code knows, by name: its graph's, and those a squashed migration
    replaces (applying a squash records them too, and a release may have deleted their files:
    the code still knows them, through the squash's `replaces`)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    names = set(loader.graph.nodes)
    for squashed in loader.replacements.values():
        names.update(squashed.replaces)
    for label, name in sorted(names):
        print("%s.%s" % (label, name))


def applied():
    recorder = MigrationRecorder(connection())
    if recorder.has_table():
        for label, name in sorted(recorder.applied_migrations()):
            print("%s.%s" % (label, name))


# --- verdicts on one operation ------------------------------------------------------------


class Verdict:
    """What one operation means for the code still serving: a class (None: state only, no
    SQL), why, and the safe way to get the same change when it is unsafe."""

    def __init__(self, cls, reason, recipe="", loses_data=False, rewrite=None, relaxed=None):
        self.cls, self.reason, self.recipe, self.loses_data = cls, reason, recipe, loses_data
        # How the platform makes it safe when it runs (KEEP_DEFAULT, NULLABLE_UNTIL_CONTRACT), or None.
        self.rewrite = rewrite
        # The (table, column) pairs a NULLABLE_UNTIL_CONTRACT rewrite makes nullable in expand.
        self.relaxed = relaxed
        # Passed because its table is small: the reason a migration shows first.
        self.locks = False


STATE_ONLY = Verdict(None, "changes Django's state only (no SQL)")
NOTHING_SERVES = Verdict(BEFORE, "no code of the app serves on this database yet (none of its tables exist): nothing old meets it")
RECIPES = {
    "not-null": "add it with null=True (or, on Django 5+, a db_default) in one release, backfill it, make it NOT NULL in the next",
    "rename": "add the new one beside the old in one release (write both, backfill), read the new one in the next, remove the old one after; or keep the database name (db_column / db_table)",
    "type": "add a column of the new type in one release (write both, backfill), read it in the next, remove the old one after",
    "index": "build it with django.contrib.postgres.operations.AddIndexConcurrently in a migration with atomic = False",
    "unique": "build a unique index CONCURRENTLY first (PostgreSQL), then add the constraint using it, in a release of its own",
    "check": "add the constraint NOT VALID and VALIDATE it in a later migration (RunSQL with reverse_sql)",
    "set-not-null": "backfill and make every release write a value first; then add CHECK (col IS NOT NULL) NOT VALID, validate it, and set NOT NULL in a release of its own",
    "remove-not-null": "make it nullable (null=True) in one release, remove it in the next: the new code's inserts leave it out",
    "split": "split it into two migrations: the additions (before the switch) and the removals (after it)",
    "raw-sql": "give RunSQL a reverse_sql and declare when it may run (%s = \"before-switch\" or \"after-switch\")" % DECLARATION,
}


class Context:
    """What the rules need besides the operation: the database vendor, what the code still
    serving knows (its tables and their columns, by the names they have at this point of the
    plan: anything else is new in this plan, so nothing that serves reads or writes it), the
    tables the database has now (the only ones ever queried), and the small-table threshold."""

    def __init__(self, conn, known, small_rows):
        self.conn = conn
        self.vendor = conn.vendor
        self.known = {table: set(columns) for table, columns in known.items()}
        # The name each known table has in the database now (a rename in the plan changes the
        # name the next operations use, not the database's until it runs).
        self.origin = {table: table for table in known}
        self.existing = set(conn.introspection.table_names())
        self.small_rows = small_rows
        self.sizes = {}
        # A first deploy, or a database without any of the serving code's tables.
        self.nothing_serves = not known

    def is_new(self, table):
        return table not in self.known

    def knows_column(self, table, column):
        return column in self.known.get(table, ())

    def size(self, table):
        """The table's Size, asked of the database once (never a table it does not have)."""
        name = self.origin.get(table)
        if name not in self.existing:
            return None
        if name not in self.sizes:
            self.sizes[name] = table_size(self.conn, name, self.small_rows)
        return self.sizes[name]

    def small(self, table):
        size = self.size(table)
        return size is not None and size.rows <= self.small_rows

    def size_note(self, table):
        size = self.size(table)
        return "%s: %s" % (table, size.text()) if size else "%s: size unknown" % table

    def follow(self, op, label, before, after):
        """Keeps the names of what the serving code knows in step with the plan."""
        if isinstance(op, (ops.RenameModel, ops.AlterModelTable)):
            old_name = op.old_name if isinstance(op, ops.RenameModel) else op.name
            new_name = op.new_name if isinstance(op, ops.RenameModel) else op.name
            old, new = model_of(before, label, old_name)._meta.db_table, model_of(after, label, new_name)._meta.db_table
            if old != new and old in self.known:
                self.known[new] = self.known.pop(old)
                self.origin[new] = self.origin.pop(old)
        elif isinstance(op, ops.DeleteModel):
            table = model_of(before, label, op.name)._meta.db_table
            self.known.pop(table, None)
        elif isinstance(op, ops.RemoveField):
            model, field = field_of(before, label, op.model_name, op.name)
            self.known.get(model._meta.db_table, set()).discard(field.column)
        elif isinstance(op, (ops.RenameField, ops.AlterField)):
            old_name = op.old_name if isinstance(op, ops.RenameField) else op.name
            new_name = op.new_name if isinstance(op, ops.RenameField) else op.name
            model, old = field_of(before, label, op.model_name, old_name)
            _, new = field_of(after, label, op.model_name, new_name)
            columns = self.known.get(model._meta.db_table)
            if columns is not None and old.column in columns and old.column != new.column:
                columns.discard(old.column)
                columns.add(new.column)


# Every size check counts up to this many rows (or the threshold, when larger) exactly: cheap,
# and the messages name small tables' sizes as they are.
COUNTED_ROWS = 10000


class Size:
    """How many rows a table holds: exact when counted, else the catalog's estimate (PostgreSQL
    pg_class.reltuples, MySQL information_schema.tables), or at least what was counted."""

    def __init__(self, rows, kind):
        self.rows, self.kind = rows, kind

    def text(self):
        unit = "row" if self.rows == 1 else "rows"
        return {"exact": "%d %s", "estimate": "about %d %s", "at-least": "more than %d %s"}[self.kind] % (self.rows, unit)


def table_size(conn, table, small_rows):
    """Counts at most max(small_rows, COUNTED_ROWS) + 1 rows (exact where it decides); a larger
    table is sized by the catalog, whose estimate may be stale or missing: reltuples is -1 on a
    table PostgreSQL 14+ never analyzed, then relpages (at about 100 bytes a row) or the count."""
    limit = max(small_rows, COUNTED_ROWS)
    quoted = conn.ops.quote_name(table)
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM (SELECT 1 FROM %s LIMIT %d) fleet_rows" % (quoted, limit + 1))
        counted = cursor.fetchone()[0]
        if counted <= limit:
            return Size(counted, "exact")
        estimate = catalog_rows(cursor, conn.vendor, table, quoted)
    if estimate is not None and estimate > limit:
        return Size(int(estimate), "estimate")
    return Size(limit, "at-least")


def catalog_rows(cursor, vendor, table, quoted):
    if vendor == "postgresql":
        cursor.execute("SELECT reltuples, relpages, current_setting('block_size')::int FROM pg_class WHERE oid = to_regclass(%s)", [quoted])
        row = cursor.fetchone()
        if row:
            reltuples, relpages, block = row
            return reltuples if reltuples >= 0 else relpages * block / 100.0
    elif vendor == "mysql":
        cursor.execute("SELECT table_rows FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s", [table])
        row = cursor.fetchone()
        return row[0] if row else None
    return None


def model_of(state, label, name):
    return state.apps.get_model(label, name)


def field_of(state, label, model_name, name):
    model = model_of(state, label, model_name)
    return model, model._meta.get_field(name)


def has_db_default(field):
    return getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED


def column_type(field, conn):
    return field.db_parameters(connection=conn)["type"]


VARCHAR = re.compile(r"^varchar\((\d+)\)$")


def safe_type_change(old, new, vendor):
    """Type changes that neither rewrite the table nor break the old code: a longer varchar,
    varchar to text on PostgreSQL (strong_migrations' list); on MySQL a longer varchar that
    keeps the same length prefix (below 64 utf8mb4 characters, or from 64 on)."""
    o, n = VARCHAR.match(old or ""), VARCHAR.match(new or "")
    if o and n:
        a, b = int(o.group(1)), int(n.group(1))
        return b >= a and (vendor != "mysql" or (a < 64) == (b < 64))
    return vendor == "postgresql" and bool(o) and new == "text"


INDEX_SQL = re.compile(r'CREATE\s+(UNIQUE\s+)?INDEX\s+(?!CONCURRENTLY)\S+\s+ON\s+[`"]?(\w+)', re.I)


def blocking_index(sql, ctx):
    """A CREATE INDEX without CONCURRENTLY on an existing PostgreSQL table blocks its writes
    for the whole build (squawk's require-concurrent-index-creation)."""
    if ctx.vendor != "postgresql":
        return None  # InnoDB builds indexes online
    for statement in sql or []:
        m = INDEX_SQL.search(statement)
        if m and not ctx.is_new(m.group(2)):
            return m.group(2)
    return None


def refused(ctx, table, reason, recipe, loses_data=False):
    """Unsafe, the table's size said (what a refusal must name)."""
    return Verdict(UNSAFE, "%s (%s)" % (reason, ctx.size_note(table)), recipe, loses_data)


def locking(ctx, table, reason, recipe):
    """An operation whose only harm is the lock it holds while it reads or rewrites the whole
    table: harmless on a small table (migrationSmallTableRows), refused on a larger one."""
    if ctx.small(table):
        verdict = Verdict(BEFORE, "%s; %s is small (%s, at most %d: migrationSmallTableRows), so the lock is short" % (
            reason, table, ctx.size(table).text(), ctx.small_rows))
        verdict.locks = True
        return verdict
    return Verdict(UNSAFE, "%s (%s, above the %d rows of migrationSmallTableRows)" % (reason, ctx.size_note(table), ctx.small_rows), recipe)


def constant_default(field):
    """Whether the value Django adds a NOT NULL column with is one constant: the field's default
    when not callable (a callable gives each row its own value: no database default can stand
    in for it), or the empty string of a blank text field without a default (Django's own
    effective default), never None."""
    if field.has_default():
        return not callable(field.default) and field.default is not None
    return field.blank and field.empty_strings_allowed and not field.null


def default_value(field):
    return field.default if field.has_default() else ""


def index_verdict(index, ctx):
    return locking(ctx, index, "builds an index on %s without CONCURRENTLY, so writes wait for it" % index, RECIPES["index"])


def judge_add_field(op, label, before, after, ctx, sql):
    model, field = field_of(after, label, op.model_name, op.name)
    table = model._meta.db_table
    if ctx.is_new(table) or field.many_to_many:
        return Verdict(BEFORE, "adds %s to a new table" % op.name if ctx.is_new(table) else "adds a many-to-many table")
    where = "%s.%s" % (table, field.column)
    rewrite = None
    if field.null:
        reason = "adds nullable column %s (the old code does not know it)" % where
    elif has_db_default(field):
        reason = "adds column %s with a database default" % where
    elif constant_default(op.field):
        reason = "adds NOT NULL column %s with Django's default %r, kept as its database default until contract (the old code's inserts get it)" % (where, default_value(op.field))
        rewrite = KEEP_DEFAULT
    else:
        return refused(ctx, table, "adds NOT NULL column %s without a database default, so the old code's inserts fail" % where, RECIPES["not-null"])
    checks = []
    if field.unique:
        checks.append(locking(ctx, table, "adds a unique column %s" % where, RECIPES["unique"]))
    index = blocking_index(sql, ctx)
    if index and not field.unique:
        checks.append(index_verdict(index, ctx))
    return strictest(Verdict(BEFORE, reason, rewrite=rewrite), checks)


def strictest(verdict, checks):
    """The first unsafe check, else the verdict with what the passed checks say."""
    for check in checks:
        if check.cls == UNSAFE:
            return check
    if checks:
        verdict.reason = "; ".join([verdict.reason] + [c.reason for c in checks])
        verdict.locks = True
    return verdict


def judge_remove_field(op, label, before, after, ctx, sql):
    model, field = field_of(before, label, op.model_name, op.name)
    table = model._meta.db_table
    if ctx.is_new(table):
        return Verdict(BEFORE, "changes a table new in this plan")
    if field.many_to_many:
        return Verdict(AFTER, "drops the many-to-many table of %s that the old code reads" % op.name, loses_data=True)
    where = "%s.%s" % (table, field.column)
    if not ctx.knows_column(table, field.column):
        return Verdict(BEFORE, "drops column %s, new in this plan (the old code never saw it)" % where)
    if not field.null and not has_db_default(field) and not field.primary_key:
        if ctx.vendor not in RELAXABLE:
            return refused(ctx, table, "drops NOT NULL column %s: the new code's inserts leave it out and fail until it is gone" % where, RECIPES["remove-not-null"], loses_data=True)
        return Verdict(AFTER, "drops NOT NULL column %s that the old code reads and writes; made nullable%s in expand, so the new code's inserts, which leave it out, succeed until contract drops it" % (
            where, " with the database default %r" % default_value(field) if constant_default(field) else ""), loses_data=True, rewrite=NULLABLE_UNTIL_CONTRACT, relaxed=[(table, field.column)])
    return Verdict(AFTER, "drops column %s that the old code reads and writes" % where, loses_data=True)


# The engines whose columns the platform makes nullable in place (SQLite alters no column).
RELAXABLE = ("postgresql", "mysql")


def judge_alter_field(op, label, before, after, ctx, sql):
    model, old = field_of(before, label, op.model_name, op.name)
    _, new = field_of(after, label, op.model_name, op.name)
    table = model._meta.db_table
    if ctx.is_new(table):
        return Verdict(BEFORE, "changes a table new in this plan")
    where = "%s.%s" % (table, old.column)
    if not ctx.knows_column(table, old.column) and not old.many_to_many:
        return Verdict(BEFORE, "changes column %s, new in this plan (the old code never saw it)" % where)
    if old.column != new.column:
        return refused(ctx, table, "renames column %s to %s, which the old code still uses" % (where, new.column), RECIPES["rename"])
    old_type, new_type = column_type(old, ctx.conn), column_type(new, ctx.conn)
    verdicts = []
    if old_type != new_type and not safe_type_change(old_type, new_type, ctx.vendor):
        change = "changes the type of %s from %s to %s" % (where, old_type, new_type)
        if not widening(old_type, new_type):
            return refused(ctx, table, change, RECIPES["type"])
        verdicts.append(locking(ctx, table, change + " (every value fits: the table is rewritten under lock)", RECIPES["type"]))
    if old.null and not new.null:
        verdicts.append(locking(ctx, table, "makes %s NOT NULL (every row is checked under lock; the old code may still write NULL)" % where, RECIPES["set-not-null"]))
    if new.unique and not old.unique:
        verdicts.append(locking(ctx, table, "makes %s unique" % where, RECIPES["unique"]))
    index = blocking_index(sql, ctx)
    if index and not (new.unique and not old.unique):
        verdicts.append(index_verdict(index, ctx))
    if not verdicts:
        return Verdict(BEFORE, "alters %s compatibly" % where) if sql else STATE_ONLY
    return strictest(Verdict(BEFORE, "alters %s" % where), verdicts)


INTEGERS = {"smallint": 1, "smallserial": 1, "integer": 2, "int": 2, "serial": 2, "bigint": 3, "bigserial": 3}
NUMERIC = re.compile(r"^(numeric|decimal)\((\d+), ?(\d+)\)$")


def plain_type(db_type):
    return (db_type or "").lower().replace(" auto_increment", "").strip()


def widening(old, new):
    """A type change every old value survives and the old code still reads as it did (an
    integer to a larger one, AutoField to BigAutoField; a longer varchar; more digits before
    the decimal point): only its lock matters. Anything else may lose or change values."""
    o, n = plain_type(old), plain_type(new)
    if o in INTEGERS and n in INTEGERS:
        return INTEGERS[n] >= INTEGERS[o]
    a, b = VARCHAR.match(o), VARCHAR.match(n)
    if a and (b or n in ("text", "longtext")):
        return not b or int(b.group(1)) >= int(a.group(1))
    a, b = NUMERIC.match(o), NUMERIC.match(n)
    if a and b:
        return a.group(3) == b.group(3) and int(b.group(2)) >= int(a.group(2))
    return False


def judge_rename_field(op, label, before, after, ctx, sql):
    model, old = field_of(before, label, op.model_name, op.old_name)
    _, new = field_of(after, label, op.model_name, op.new_name)
    table = model._meta.db_table
    if old.column == new.column:
        return STATE_ONLY
    if ctx.is_new(table) or not ctx.knows_column(table, old.column):
        return Verdict(BEFORE, "renames column %s.%s, new in this plan (the old code never saw it)" % (table, old.column))
    return refused(ctx, table, "renames column %s.%s to %s, which the old code still uses" % (table, old.column, new.column), RECIPES["rename"])


def judge_table_rename(old_model, new_model, ctx):
    old, new = old_model._meta.db_table, new_model._meta.db_table
    if old == new:
        return STATE_ONLY
    if ctx.is_new(old):
        return Verdict(BEFORE, "renames table %s, new in this plan (the old code never saw it)" % old)
    return refused(ctx, old, "renames table %s to %s, which the old code still uses" % (old, new), RECIPES["rename"])


def judge_rename_model(op, label, before, after, ctx, sql):
    return judge_table_rename(model_of(before, label, op.old_name), model_of(after, label, op.new_name), ctx)


def judge_alter_table(op, label, before, after, ctx, sql):
    return judge_table_rename(model_of(before, label, op.name), model_of(after, label, op.name), ctx)


def judge_delete_model(op, label, before, after, ctx, sql):
    table = model_of(before, label, op.name)._meta.db_table
    if ctx.is_new(table):
        return Verdict(BEFORE, "drops table %s, new in this plan (the old code never saw it)" % table)
    return Verdict(AFTER, "drops table %s that the old code reads and writes" % table, loses_data=True)


def judge_add_index(op, label, before, after, ctx, sql):
    table = model_of(after, label, op.model_name)._meta.db_table
    if ctx.is_new(table) or type(op).__name__ == "AddIndexConcurrently" or ctx.vendor != "postgresql":
        return Verdict(BEFORE, "adds an index (online)")
    return index_verdict(table, ctx)


def judge_add_constraint(op, label, before, after, ctx, sql):
    table = model_of(after, label, op.model_name)._meta.db_table
    if ctx.is_new(table):
        return Verdict(BEFORE, "adds a constraint to a new table")
    if isinstance(op.constraint, models.UniqueConstraint):
        return locking(ctx, table, "adds unique constraint %s to %s" % (op.constraint.name, table), RECIPES["unique"])
    return locking(ctx, table, "adds constraint %s to %s: every row is checked under lock and the old code may write rows it refuses" % (op.constraint.name, table), RECIPES["check"])


def judge_together(op, label, before, after, ctx, sql):
    model = model_of(before, label, op.name)
    table = model._meta.db_table
    old = set(getattr(model._meta, op.option_name, ()) or ())
    added = set(op.option_value or ()) - old
    if not added or ctx.is_new(table):
        return Verdict(BEFORE, "drops %s" % op.option_name) if sql else STATE_ONLY
    if op.option_name == "unique_together":
        return locking(ctx, table, "adds unique_together %s to %s" % (sorted(added), table), RECIPES["unique"])
    index = blocking_index(sql, ctx)
    if index:
        return index_verdict(index, ctx)
    return Verdict(BEFORE, "adds index_together (online)")


def judge_order_with_respect_to(op, label, before, after, ctx, sql):
    table = model_of(before, label, op.name)._meta.db_table
    if not op.order_with_respect_to or ctx.is_new(table):
        return Verdict(BEFORE, "changes order_with_respect_to") if sql else STATE_ONLY
    return refused(ctx, table, "adds NOT NULL column %s._order without a database default, so the old code's inserts fail" % table, RECIPES["not-null"])


RAW_DROP = re.compile(r"\bDROP\s+(COLUMN|TABLE)\b", re.I)
RAW_RENAME = re.compile(r"\bRENAME\b", re.I)


def judge_run_sql(op, label, before, after, ctx, sql):
    if op.reverse_sql is None:
        return Verdict(UNSAFE, "runs raw SQL without reverse_sql", RECIPES["raw-sql"])
    return judge_sql(sql, ctx, "runs raw SQL")


def judge_sql(sql, ctx, what):
    """Operations this file has no rule for (third-party ones) and raw SQL: by their SQL."""
    text = "\n".join(sql or [])
    if not text.strip():
        return STATE_ONLY
    if RAW_RENAME.search(text):
        return Verdict(UNSAFE, "%s that renames what the old code uses" % what, RECIPES["rename"])
    if RAW_DROP.search(text):
        return Verdict(AFTER, "%s that drops what the old code uses" % what, loses_data=True)
    return Verdict(BEFORE, what)


RULES = [
    (ops.CreateModel, lambda *a: Verdict(BEFORE, "creates a table (the old code does not know it)")),
    (ops.DeleteModel, judge_delete_model),
    (ops.RenameModel, judge_rename_model),
    (ops.AlterModelTable, judge_alter_table),
    (ops.AddField, judge_add_field),
    (ops.RemoveField, judge_remove_field),
    (ops.AlterField, judge_alter_field),
    (ops.RenameField, judge_rename_field),
    (ops.AddIndex, judge_add_index),
    (ops.RemoveIndex, lambda *a: Verdict(BEFORE, "drops an index")),
    (ops.AddConstraint, judge_add_constraint),
    (ops.RemoveConstraint, lambda *a: Verdict(BEFORE, "drops a constraint")),
    (ops.AlterUniqueTogether, judge_together),
    (ops.AlterIndexTogether, judge_together),
    (ops.AlterOrderWithRespectTo, judge_order_with_respect_to),
    (ops.AlterModelOptions, lambda *a: STATE_ONLY),
    (ops.AlterModelManagers, lambda *a: STATE_ONLY),
    (ops.RunPython, lambda *a: Verdict(BEFORE, "a data migration (RunPython)")),
    (ops.RunSQL, judge_run_sql),
]


def operation_sql(op, label, before, after, conn):
    """The SQL the operation emits (the schema editor's collected SQL, as sqlmigrate shows
    it), or None when it cannot be written as SQL (RunPython) or cannot be collected."""
    if not op.reduces_to_sql:
        return None
    try:
        with conn.schema_editor(collect_sql=True, atomic=False) as editor:
            op.database_forwards(label, editor, before, after)
        return list(editor.collected_sql)
    except Exception:  # noqa: BLE001 - collecting is best effort; the rules fall back on the state
        return None


def judge_operation(op, label, before, after, ctx):
    if ctx.nothing_serves:
        return NOTHING_SERVES
    if isinstance(op, ops.SeparateDatabaseAndState):
        return judge_operations(op.database_operations, label, before, ctx)[0]
    sql = None if isinstance(op, ops.RunPython) else operation_sql(op, label, before, after, ctx.conn)
    if sql == [] and not isinstance(op, ops.RunSQL):
        return STATE_ONLY  # the schema editor has nothing to run (choices, help_text, a Python default)
    for cls, rule in RULES:
        if isinstance(op, cls):
            return rule(op, label, before, after, ctx, sql)
    return judge_sql(sql, ctx, "%s" % type(op).__name__)


def judge_operations(operations, label, state, ctx):
    """The strictest verdict of a list of operations (None when all are state only), and the
    state after them. Additions and removals in one migration cannot be placed: unsafe."""
    verdicts = []
    for op in operations:
        after = state.clone()
        op.state_forwards(label, after)
        verdict = judge_operation(op, label, state, after, ctx)
        if verdict.cls is not None:
            verdicts.append((op, verdict))
        ctx.follow(op, label, state, after)
        state = after
    op, verdict = combine(verdicts)
    rewrites = [v.rewrite for _, v in verdicts if v.rewrite and v.cls == verdict.cls]
    if rewrites and verdict.cls in (BEFORE, AFTER) and verdict is not NOTHING_SERVES:
        verdict.rewrite = rewrites[0]
        verdict.relaxed = [column for _, v in verdicts for column in v.relaxed or []]
    return (op, verdict), state


def combine(verdicts):
    unsafe = [v for v in verdicts if v[1].cls == UNSAFE]
    if unsafe:
        return unsafe[0]
    before = [v for v in verdicts if v[1].cls == BEFORE]
    after = [v for v in verdicts if v[1].cls == AFTER]
    if before and after:
        op, v = after[0]
        return op, Verdict(UNSAFE, "mixes additions with removals (%s)" % v.reason, RECIPES["split"], loses_data=True)
    before = [v for v in before if v[1].locks] + [v for v in before if not v[1].locks]
    return (after or before or [(None, STATE_ONLY)])[0]


def declared(migration):
    """The class a migration's author declared and the attribute that says it, or None; a bad
    value is an error."""
    value = getattr(migration, DECLARATION, None)
    if value is not None:
        if value not in (BEFORE, AFTER):
            sys.exit("fleet: error: %s: %s = %r is not allowed (\"%s\" or \"%s\")" % (key_of(migration), DECLARATION, value, BEFORE, AFTER))
        return value, "%s = %r" % (DECLARATION, value)
    safe = getattr(migration, "safe", None)
    name = getattr(safe, "value", safe)
    if isinstance(name, str) and name in SAFEMIGRATE:
        return SAFEMIGRATE[name], "django-safemigrate's safe = %s" % name
    return None


class Entry:
    """One migration of a plan: its class, the operation that decided it, when it runs."""

    def __init__(self, migration, op, verdict, declaration):
        self.migration, self.key = migration, key_of(migration)
        self.op, self.verdict = op, verdict
        self.cls = declaration[0] if declaration else verdict.cls or BEFORE
        self.state_only = declaration is None and verdict.cls is None
        self.reason = "declared by the migration (%s)" % declaration[1] if declaration else verdict.reason
        self.when = None
        self.refusal = None

    def operation(self):
        return self.op.describe() if self.op is not None else "-"

    def json(self, unapply=False):
        out = {"name": self.key, "class": self.cls, "when": self.when, "reason": self.reason}
        if self.verdict.rewrite and not unapply and self.when in (EXPAND, CONTRACT):
            out["rewrite"] = self.verdict.rewrite
        if unapply:
            out["unapply"] = True
        return out


def classify_plan(plan, state, ctx):
    entries = []
    for migration, _ in plan:
        declaration = None if ctx.nothing_serves else declared(migration)
        (op, verdict), state = judge_operations(migration.operations, migration.app_label, state, ctx)
        entries.append(Entry(migration, op, verdict, declaration))
    return entries


def refuse_line(app, tag, entry, why, recipe):
    return "%s %s: %s (%s) %s; safe recipe: %s; or acknowledge it in apps.yaml (acknowledgeMigrations: [%s])" % (
        app, tag, entry.key, entry.operation(), why, recipe, entry.key)


def place_forwards(entries, acks, app, tag):
    """When each pending migration runs: before-switch ones in expand, after-switch ones in
    contract, unsafe ones refused unless acknowledged (then in expand). Parents come first."""
    by_key = {e.key: e for e in entries}
    for e in entries:
        if e.cls == UNSAFE:
            e.when = EXPAND if e.key in acks else REFUSED_WHEN
            if e.when == REFUSED_WHEN:
                e.refusal = refuse_line(app, tag, e, e.verdict.reason, e.verdict.recipe)
        else:
            e.when = CONTRACT if e.cls == AFTER else EXPAND
        late = [p for p in parents(e.migration, by_key) if p.when == CONTRACT]
        if e.when == EXPAND and late:
            skipped = late_ancestors(e, by_key)
            if e.state_only:
                e.when = CONTRACT
            elif commutes(e.migration, [p.migration for p in skipped]):
                e.reason += "; runs in expand ahead of %s (contract), whose models it does not touch" % ", ".join(p.key for p in skipped)
            else:
                e.when = REFUSED_WHEN
                e.refusal = "%s %s: %s runs before the switch but depends on %s, which runs after it: it cannot be ordered; make both after-switch (%s = \"after-switch\") or move the dependency" % (
                    app, tag, e.key, late[0].key, DECLARATION)


def late_ancestors(entry, by_key):
    """The pending migrations placed in contract that `entry` depends on, however indirectly."""
    found, todo = [], [entry]
    while todo:
        for p in parents(todo.pop().migration, by_key):
            if p not in found:
                todo.append(p)
                if p.when == CONTRACT:
                    found.append(p)
    return sorted(found, key=lambda p: p.key)


def touched_models(operations, label):
    """The models (label, name) the operations change, or None when one may touch anything
    (RunPython, RunSQL, an operation of no model)."""
    touched = set()
    for op in operations:
        if isinstance(op, ops.SeparateDatabaseAndState):
            inner = touched_models(list(op.database_operations) + list(op.state_operations), label)
            if inner is None:
                return None
            touched |= inner
        elif isinstance(op, ops.fields.FieldOperation) or hasattr(op, "model_name"):
            touched.add((label, op.model_name.lower()))
        elif isinstance(op, ops.models.ModelOperation):
            touched.update((label, name.lower()) for name in (op.name, getattr(op, "new_name", op.name)))
        else:
            return None
        fields = [op.field] if getattr(op, "field", None) is not None else [f for _, f in getattr(op, "fields", [])]
        for field in fields:
            related = related_model(field, label)
            if related is False:
                return None
            if related:
                touched.add(related)
    return touched


def related_model(field, label):
    """The (label, name) a relation points to, None for no relation, False when unknown."""
    remote = getattr(field, "remote_field", None)
    if remote is None:
        return None
    target = remote.model
    if not isinstance(target, str):
        return False
    app, _, name = target.rpartition(".")
    return (app or label, name.lower())


def commutes(migration, skipped):
    """Whether `migration` may be applied before the `skipped` ones it depends on (Django's
    order is one line per app, not what the operations need): none of them runs code, and they
    change disjoint models, so either order gives the same schema."""
    mine = touched_models(migration.operations, migration.app_label)
    if not mine:
        return False
    for other in skipped:
        theirs = touched_models(other.operations, other.app_label)
        if theirs is None or theirs & mine:
            return False
    return True


def parents(migration, by_key):
    return [by_key[key_of_tuple(d)] for d in migration.dependencies if key_of_tuple(d) in by_key]


def key_of_tuple(dep):
    return "%s.%s" % (dep[0], dep[1])


def applied_state(executor):
    """The project state of the applied migrations (what the old code runs on)."""
    return executor._create_project_state(with_applied_migrations=True)


def read_acks(text):
    return set() if text == "-" else set(filter(None, text.split(",")))


def classify(app, tag, acks_text, prior, expand_out, small_rows="0", serving="-", relax_out=None):
    """SERVING: a file of the migrations the serving release's code knows ("label.name" a
    line), "none" when no release serves, "-" for the migrations applied to the database.
    RELAX_OUT: gets "label.name TABLE COLUMN" for each column expand makes nullable until
    the contract migration drops it (NULLABLE_UNTIL_CONTRACT)."""
    conn = connection()
    executor = MigrationExecutor(conn)
    plan = pending_plan(executor)
    known = known_schema(serving_state(executor, serving), conn)
    entries = classify_plan(plan, applied_state(executor), Context(conn, known, int(small_rows)))
    place_forwards(entries, read_acks(acks_text), app, tag)
    listed = (json.load(open(prior)) if prior != "-" else []) + [e.json() for e in entries]
    print("fleet-migrations: " + json.dumps({"app": app, "tag": tag, "migrations": listed}, separators=(",", ":")))
    with open(expand_out, "w") as out:
        for e in entries:
            if e.when == EXPAND:
                out.write(e.key + "\n")
    if relax_out:
        with open(relax_out, "w") as out:
            for e in entries:
                if e.when == CONTRACT and e.verdict.rewrite == NULLABLE_UNTIL_CONTRACT:
                    out.writelines("%s %s %s\n" % (e.key, table, column) for table, column in e.verdict.relaxed)
    report(entries)


def serving_state(executor, serving):
    """The project state the serving code knows: its migrations' (those this release has too;
    a newer serving release's others are a rollback's, judged by unapply-plan)."""
    if serving == "-":
        return applied_state(executor)
    if serving == "none":
        return None
    graph = executor.loader.graph
    with open(serving) as listing:
        keys = {tuple(line.strip().split(".", 1)) for line in listing if "." in line}
    nodes = keys & set(graph.nodes)
    if not nodes:
        return None
    children = {n: graph.node_map[n].children for n in nodes}
    leaves = [n for n in nodes if not any(c.key in nodes for c in children[n])]
    return executor.loader.project_state(leaves, at_end=True)


def known_schema(state, conn):
    """What the serving code reads and writes: its tables that the database has, with their
    columns. Nothing when no release serves or none of its tables exist (a first deploy)."""
    if state is None:
        return {}
    have = set(conn.introspection.table_names())
    known = {}
    for model in state.apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if table in have:
            known[table] = {f.column for f in model._meta.local_concrete_fields}
    return known


def report(entries):
    for e in entries:
        if e.when == EXPAND and e.cls == UNSAFE:
            print("fleet: %s runs while the old code serves (acknowledged in apps.yaml): the old code is exposed to it: %s" % (e.key, e.verdict.reason), file=sys.stderr)
    refusals = [e.refusal for e in entries if e.refusal]
    if refusals:
        for refusal in refusals:
            print("REFUSED " + refusal, file=sys.stderr)
        sys.exit(REFUSED)


def schema_of(state):
    return {m._meta.db_table: {f.column for f in m._meta.local_concrete_fields} for m in state.apps.get_models(include_auto_created=True)}


def unapply_plan(acks_text, small_rows, entries_out, expand_out, specs):
    """A rollback flips the classes: what was after-switch (a dropped column) comes back
    before the switch, empty, so refused unless acknowledged; what was before-switch goes
    after it; unsafe stays unsafe."""
    targets = []
    for spec in specs:
        label, _, name = spec.partition(":")
        targets.append((label, None if name == "zero" else name))
    conn = connection()
    executor = MigrationExecutor(conn)
    plan = executor.migration_plan(targets)
    problems = []
    for migration, backwards in plan:
        key = key_of(migration)
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
    forwards = list(reversed(plan))
    first = forwards[0][0] if forwards else None
    state = executor.loader.project_state((first.app_label, first.name), at_end=False) if first else None
    # The older code knows the tables and columns of the state before the first migration
    # unapplied; only those the database has now are ever queried.
    entries = classify_plan(forwards, state, Context(conn, schema_of(state), int(small_rows))) if first else []
    place_backwards(entries, read_acks(acks_text))
    with open(entries_out, "w") as out:
        json.dump([e.json(unapply=True) for e in reversed(entries)], out)
    with open(expand_out, "w") as out:
        for e in reversed(entries):
            if e.when == EXPAND:
                out.write(e.key + "\n")
    report(entries)


def place_backwards(entries, acks):
    """Entries in forwards order (parents first). Unapplying one before the switch needs its
    children unapplied before the switch too."""
    by_key = {e.key: e for e in entries}
    for e in entries:
        if e.cls == AFTER:
            e.cls, e.when = BEFORE, EXPAND
            if e.verdict.loses_data and e.key not in acks:
                e.when = REFUSED_WHEN
                e.refusal = "unapplying %s (%s) brings back empty what it removed: the data it held is gone; roll forward instead, or acknowledge it in apps.yaml (acknowledgeMigrations: [%s]) to roll back anyway" % (e.key, e.operation(), e.key)
        elif e.cls == UNSAFE:
            e.when = EXPAND if e.key in acks else REFUSED_WHEN
            if e.when == REFUSED_WHEN:
                e.refusal = "unapplying %s (%s) %s, the reverse is unsafe too; roll forward instead, or acknowledge it in apps.yaml (acknowledgeMigrations: [%s])" % (e.key, e.operation(), e.verdict.reason, e.key)
        else:
            e.cls, e.when = AFTER, (EXPAND if e.state_only else CONTRACT)
    for e in entries:
        if e.when != EXPAND:
            continue
        for child in entries:
            if e in parents(child.migration, by_key) and child.when == CONTRACT:
                if child.state_only:
                    child.when = EXPAND
                else:
                    child.when, child.refusal = REFUSED_WHEN, "unapplying %s before the switch needs %s unapplied first, which may only go after it: it cannot be ordered; roll forward instead" % (e.key, child.key)


# --- running migrations -------------------------------------------------------------------


def set_timeouts(lock_seconds, statement_seconds):
    """Every connection of this process gets the lock and statement timeouts: a migration
    waiting for a lock gives up instead of queueing every request behind it."""

    def on_connect(sender, connection, **kwargs):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET lock_timeout = '%ds'" % lock_seconds)
                cursor.execute("SET statement_timeout = '%ds'" % statement_seconds)
            elif connection.vendor == "mysql":
                cursor.execute("SET SESSION lock_wait_timeout = %d" % lock_seconds)
                cursor.execute("SET SESSION innodb_lock_wait_timeout = %d" % lock_seconds)
                if getattr(connection, "mysql_is_mariadb", False):
                    cursor.execute("SET SESSION max_statement_time = %d" % statement_seconds)
                else:
                    cursor.execute("SET SESSION max_execution_time = %d" % (statement_seconds * 1000))

    connection_created.connect(on_connect, weak=False)
    connection().close()


def lock_not_granted(error):
    cause = error.__cause__ or error
    if getattr(cause, "pgcode", None) == "55P03":  # lock_not_available
        return True
    args = getattr(cause, "args", ())
    return bool(args) and args[0] in (1205,)  # ER_LOCK_WAIT_TIMEOUT (also metadata locks)


def pending_plan(executor):
    """Every migration not applied yet, in Django's order: expand may have applied one ahead of
    the contract ones it depends on (commutes), which a plan to the leaf nodes takes as done."""
    done = executor.loader.applied_migrations
    order = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    return [(m, False) for m, _ in order if (m.app_label, m.name) not in done]


def selected_plan(executor, direction, items):
    graph = executor.loader.graph
    if direction == "to":
        if items == ["all"]:
            return pending_plan(executor)
        targets = [(s.partition(":")[0], None if s.partition(":")[2] == "zero" else s.partition(":")[2]) for s in items]
        return executor.migration_plan(targets)
    wanted = set(items)
    order = [m for m, _ in executor.migration_plan(graph.leaf_nodes(), clean_start=True)]
    done = executor.loader.applied_migrations
    if direction == "forwards":
        return [(m, False) for m in order if key_of(m) in wanted and (m.app_label, m.name) not in done]
    return [(m, True) for m in reversed(order) if key_of(m) in wanted and (m.app_label, m.name) in done]


def keeping_defaults(conn):
    """The schema editor of forwards runs (expand) leaves a constant default Django would drop
    right after adding its column: the old code's inserts, which leave the column out, get it.
    Prints KEPT-DEFAULT TABLE.COLUMN for migrate.sh, whose contract step drops it."""
    base = conn.SchemaEditorClass

    class KeepingDefaults(base):
        adding = None

        def add_field(self, model, field):
            self.adding = (model, field)
            try:
                super().add_field(model, field)
            finally:
                self.adding = None

        def skip_default_on_alter(self, field):
            if self.adding and self.adding[1] is field and constant_default(field) and not has_db_default(field):
                print("KEPT-DEFAULT %s.%s" % (self.adding[0]._meta.db_table, field.column))
                return True
            return super().skip_default_on_alter(field)

    conn.SchemaEditorClass = KeepingDefaults


def relax_columns(lines):
    """Expand: each NOT NULL column a contract migration drops becomes nullable, with the field's
    constant default as its database default when it has one (what the old code still reading
    it expects), so the new code's inserts, which leave it out, succeed. A catalog change on
    PostgreSQL; an online ALTER on MariaDB/MySQL. Django's own SQL for both engines."""
    conn = connection()
    loader = MigrationLoader(conn)
    done = []
    with conn.schema_editor(atomic=False) as editor:
        for line in lines:
            key, table, column = line.split()
            label, _, name = key.partition(".")
            state = loader.project_state((label, name), at_end=False)
            model, field = column_in(state, table, column)
            nullable = copy.copy(field)
            nullable.null = True
            changes, params = editor._alter_column_null_sql(model, field, nullable)
            editor.execute(editor.sql_alter_column % {"table": editor.quote_name(table), "changes": changes}, params)
            if constant_default(field):
                editor.execute("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %%s" % (editor.quote_name(table), editor.quote_name(column)), [editor.effective_default(field)])
            done.append("%s.%s" % (table, column))
    print("fleet: made nullable until contract drops them: %s" % " ".join(done), file=sys.stderr)


def column_in(state, table, column):
    for model in state.apps.get_models():
        if model._meta.db_table == table:
            for field in model._meta.local_concrete_fields:
                if field.column == column:
                    return model, field
    sys.exit("fleet: error: no column %s.%s in the project state before the migration that drops it" % (table, column))


def drop_defaults(columns):
    """Contract: the defaults kept in expand go (Django's schema has none: nothing that serves
    relies on them any more). ALTER ... DROP DEFAULT changes the catalog only, in both engines."""
    conn = connection()
    quote = conn.ops.quote_name
    with conn.cursor() as cursor:
        for item in columns:
            table, column = item.rsplit(".", 1)
            cursor.execute("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT" % (quote(table), quote(column)))
    print("fleet: dropped the database defaults kept until contract: %s" % " ".join(columns), file=sys.stderr)


def run_plan(direction, items):
    conn = connection()
    # forwards-first: a first deploy, no old code to serve (nor a default to keep for it; a table
    # a later migration of the same run renames would leave contract a default it cannot find).
    if direction == "forwards":
        keeping_defaults(conn)
    elif direction == "forwards-first":
        direction = "forwards"
    executor = MigrationExecutor(conn)
    plan = selected_plan(executor, direction, items)
    if not plan:
        return
    print("fleet: %s %s" % ("unapplying" if plan[0][1] else "applying", " ".join(key_of(m) for m, _ in plan)), file=sys.stderr)
    pre_state = applied_state(executor)
    emit_pre_migrate_signal(0, False, conn.alias, apps=pre_state.apps, plan=plan)
    post_state = executor.migrate([], plan=plan, state=pre_state.clone())
    post_state.clear_delayed_apps_cache()
    emit_post_migrate_signal(0, False, conn.alias, apps=post_state.apps, plan=plan)


def migrate(lock_text, statement_text, retries_text, direction, items):
    lock_seconds, statement_seconds, retries = int(lock_text), int(statement_text), int(retries_text)
    set_timeouts(lock_seconds, statement_seconds)
    pause = 1
    started = time.monotonic()
    for attempt in range(retries + 1):
        try:
            if direction == "drop-defaults":
                drop_defaults(items)
            elif direction == "relax-columns":
                relax_columns(items)
            else:
                run_plan(direction, items)
            return
        except OperationalError as error:
            if not lock_not_granted(error):
                raise
            connection().close()
            if attempt == retries:
                print("could not get a database lock within %d s in %d attempts, %.1f s in all (%s): another session holds it; find it (pg_locks / SHOW PROCESSLIST) or retry when it is done"
                      % (lock_seconds, retries + 1, time.monotonic() - started, str(error).strip().splitlines()[0]), file=sys.stderr)
                sys.exit(LOCK_NOT_GRANTED)
            print("fleet: a database lock was not granted within %d s (attempt %d of %d); retrying in %d s" % (lock_seconds, attempt + 1, retries + 1, pause), file=sys.stderr)
            time.sleep(pause)
            pause *= 2


USAGE = ("usage: fleet_migrations.py known | applied | classify APP TAG ACKS PRIOR EXPAND_OUT [SMALL_ROWS [SERVING [RELAX_OUT]]]"
         " | unapply-plan ACKS SMALL_ROWS ENTRIES_OUT EXPAND_OUT LABEL:NAME..."
         " | migrate LOCK STATEMENT RETRIES forwards|forwards-first|backwards|to ITEM..."
         " | drop-defaults|relax-columns LOCK STATEMENT RETRIES FILE")

if __name__ == "__main__":
    args = sys.argv[1:]
    if args in (["known"], ["applied"]):
        {"known": known, "applied": applied}[args[0]]()
    elif 6 <= len(args) <= 9 and args[0] == "classify":
        classify(*args[1:])
    elif len(args) >= 6 and args[0] == "unapply-plan":
        unapply_plan(args[1], args[2], args[3], args[4], args[5:])
    elif len(args) == 5 and args[0] in ("drop-defaults", "relax-columns"):
        migrate(args[1], args[2], args[3], args[0], [line.strip() for line in open(args[4]) if line.strip()])
    elif len(args) >= 6 and args[0] == "migrate" and args[4] in ("forwards", "forwards-first", "backwards", "to"):
        migrate(args[1], args[2], args[3], args[4], args[5:])
    else:
        sys.exit(USAGE)
