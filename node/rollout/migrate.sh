#!/bin/sh
# migrate.sh APP TAG expand|contract LOCK_SECONDS STATEMENT_SECONDS RETRIES SMALL_TABLE_ROWS [LABEL.NAME...]
#
# Brings the database to exactly the migrations release TAG knows; runs once per app and
# release, from one node, as its own steps, around the switch (docs/rollout.md, "Migrations
# around the switch"). fleet_migrations.py classifies every migration first, with Django's
# own loader, executor and schema editor, before anything changes, by what the code serving
# now (the release `current` points to; none on a first deploy) meets:
#  expand   (before any node switches) prints one `fleet-migrations: {json}` line (each
#           migration's class and the step that runs it), refuses an unsafe migration that
#           the trailing LABEL.NAME arguments (apps.yaml's acknowledgeMigrations) do not
#           acknowledge (a locking one only on a table above SMALL_TABLE_ROWS rows), then
#           applies, with TAG's code, the before-switch ones; a column added with a constant
#           default keeps it as its database default until contract; a NOT NULL column that
#           contract drops is made nullable here (the new code's inserts leave it out). When the
#           database has migrations TAG's code does not know (a rollback) their classes flip:
#           the reverse of an after-switch one (a dropped column comes back, empty) runs here
#           and is refused unless acknowledged; an irreversible one refuses the rollback.
#  contract (after every node serves TAG) applies the rest (after-switch: what only the old
#           code used), drops the defaults expand kept, and unapplies a rollback's other migrations with the newer code
#           that knows them (the release served before, else the newest staged one that does).
# Every run sets LOCK_SECONDS / STATEMENT_SECONDS as the migration connection's lock and
# statement timeouts and retries RETRIES times when a lock is not granted: a migration that
# cannot get its lock fails the release, never the site.
# Records the applied migrations in the release (.fleet/migrations-applied). Prints a summary.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -ge 7 ] || die "usage: migrate.sh APP TAG expand|contract LOCK_SECONDS STATEMENT_SECONDS RETRIES SMALL_TABLE_ROWS [LABEL.NAME...]"
case $3 in expand | contract) ;; *) die "phase '$3' is not allowed (expand or contract)" ;; esac
staged_release "$1" "$2"
phase=$3
check_migration_lock_timeout "$4"
check_migration_statement_timeout "$5"
check_migration_retries "$6"
check_migration_small_table_rows "$7"
limits="$4 $5 $6"
small_rows=$7
shift 7
for ack in "$@"; do check_arg "acknowledged migration" "$ack" '[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_]+'; done
acks=$(printf '%s\n' "$@" | paste -sd, -)
acks=${acks:--}
lock migrate

work=$(mktemp -d)
# What fleet_migrations.py writes (as the app user) goes to $out, a directory of that user.
out=$(as_user mktemp -d)
trap 'rm -rf "$work"; as_user rm -rf "$out"' EXIT
as_user chmod 0755 "$out"
# applied FILE: the migrations the database has applied, sorted; a database that cannot be
# read stops the script with its error (never an empty list that would look like a fresh one).
applied() {
  if ! release_python "$rel" "$here/fleet_migrations.py" applied >"$work/applied.out" 2>"$work/applied.err"; then
    tail -n 20 "$work/applied.err" >&2
    die "$APP_NAME $tag: reading the migrations applied to the database failed: $(error_line <"$work/applied.err"); nothing was changed"
  fi
  sort "$work/applied.out" >"$1"
}
# py RELEASE ARGS...: fleet_migrations.py with that release's code.
py() {
  _code=$1
  shift
  release_python "$_code" "$here/fleet_migrations.py" "$@"
}
# run RELEASE COMMAND ARG...: fleet_migrations.py's migrate (DIRECTION ITEM...) or
# drop-defaults (FILE) with the limits; a failure names the cause. The defaults a forwards run
# kept (KEPT-DEFAULT TABLE.COLUMN lines) are added to the release's .fleet/kept-defaults.
run() {
  _code=$1
  _command=$2
  shift 2
  # shellcheck disable=SC2086 # limits are three validated numbers
  if ! py "$_code" "$_command" $limits "$@" >"$work/out" 2>&1; then
    tail -n 20 "$work/out" >&2
    if [ "$phase" = expand ]; then after="no node was switched"; else after="every node serves $tag; rerun to finish"; fi
    die "migrating $APP_NAME to $tag failed: $(grep -v '^fleet: ' "$work/out" | grep -v '^KEPT-DEFAULT ' | error_line); $after"
  fi
  sed -n 's/^KEPT-DEFAULT //p' "$work/out" | sort -u >"$work/kept"
  if [ -s "$work/kept" ]; then
    cat "$work/kept" >>"$rel/.fleet/kept-defaults"
    log "$APP_NAME: kept the database default of $(paste -sd' ' - <"$work/kept") until contract: the old code's inserts leave the column out (keep-default)"
  fi
  grep -v '^KEPT-DEFAULT ' "$work/out" >&2 || true
}
sort "$rel/.fleet/migrations-known" >"$work/known"
applied "$work/applied"
comm -23 "$work/applied" "$work/known" >"$work/extra"

# newer_code: the release that served before this one (previous) when its code knows every
# extra migration, else the newest staged release that does.
newer_code() {
  for candidate in "$(readlink -f "$PREVIOUS" || true)" $(staged_newest_first); do
    [ -f "$candidate/.fleet/migrations-known" ] || continue
    sort "$candidate/.fleet/migrations-known" >"$work/candidate"
    if [ -z "$(comm -23 "$work/extra" "$work/candidate")" ]; then
      printf '%s' "$candidate"
      return 0
    fi
  done
  die "cannot roll $APP_NAME back to $tag: the database has $(paste -sd' ' - <"$work/extra") which no release staged on this node knows how to unapply"
}

# backwards_plan NEWER: the unapply targets into $work/targets, after checking and classing
# the plan ($work/backwards.json, $work/backwards-expand).
# Per app label: the newest migration of that label that is applied and that TAG knows
# (migration names sort in order: 0001_, 0002_, ...), or zero.
backwards_plan() {
  comm -12 "$work/applied" "$work/known" >"$work/common"
  sed 's/\..*//' "$work/extra" | sort -u | while IFS= read -r label; do
    name=$(grep "^$label\\." "$work/common" | sort | tail -n 1 | sed 's/^[^.]*\.//')
    printf '%s:%s\n' "$label" "${name:-zero}"
  done >"$work/targets"
  # shellcheck disable=SC2046 # targets are label:name words (Python identifiers)
  if py "$1" unapply-plan "$acks" "$small_rows" "$out/backwards.json" "$out/backwards-expand" $(cat "$work/targets") >"$work/plan" 2>"$work/why"; then
    return 0
  else
    case $? in
      3) die "refusing to roll $APP_NAME back to $tag: $(sed -n 's/^IRREVERSIBLE //p' "$work/why" | paste -sd';' -); nothing was changed" ;;
      4) refused_rollback=$(sed -n 's/^REFUSED //p' "$work/why" | paste -sd'|' - | sed 's/|/ | /g') ;;
      *) die "cannot plan the rollback of $APP_NAME to $tag: $(error_line <"$work/why"); nothing was changed" ;;
    esac
  fi
}

refused_rollback=""
if [ -s "$work/extra" ]; then
  newer=$(newer_code)
  backwards_plan "$newer"
fi

if [ "$phase" = expand ]; then
  prior=-
  [ -f "$out/backwards.json" ] && prior=$out/backwards.json
  # What the serving code knows (the release `current` points to), or none on a first deploy:
  # its record, which the app's user (the classifier) reads, as it reads every release's code.
  serving=none
  if [ -f "$CURRENT/.fleet/migrations-known" ]; then
    serving=$(readlink -e "$CURRENT")/.fleet/migrations-known
  fi
  if ! py "$rel" classify "$APP_NAME" "$tag" "$acks" "$prior" "$out/forwards-expand" "$small_rows" "$serving" "$out/relax" 2>"$work/why"; then
    grep '^fleet: ' "$work/why" >&2 || true
    refused=$(sed -n 's/^REFUSED //p' "$work/why" | paste -sd'|' - | sed 's/|/ | /g')
    [ -n "$refused" ] || die "cannot classify the migrations of $APP_NAME $tag: $(error_line <"$work/why"); nothing was changed"
    die "refusing to deploy $refused; nothing was changed"
  fi
  grep '^fleet: ' "$work/why" >&2 || true
  [ -z "$refused_rollback" ] || die "refusing to roll $APP_NAME back to $tag: $refused_rollback; nothing was changed"
  if [ -s "$out/backwards-expand" ]; then
    log "$APP_NAME: unapplying $(paste -sd' ' - <"$out/backwards-expand") before the switch, with the code of $(cat "$newer/.fleet/tag")"
    # shellcheck disable=SC2046 # migration keys are label.name words (Python identifiers)
    run "$newer" migrate backwards $(cat "$out/backwards-expand")
  fi
  if [ -s "$work/extra" ]; then
    sort "$work/plan" >"$work/plan.sorted"
    sort "$out/backwards-expand" | comm -23 "$work/plan.sorted" - >"$work/later"
    [ ! -s "$work/later" ] || log "$APP_NAME: $(paste -sd' ' - <"$work/later") will be unapplied once every node serves $tag"
  fi
  if [ -s "$out/forwards-expand" ]; then
    # No serving code (a first deploy): nothing old inserts, so no default is kept for it.
    direction=forwards
    [ "$serving" != none ] || direction=forwards-first
    # shellcheck disable=SC2046 # migration keys are label.name words (Python identifiers)
    run "$rel" migrate "$direction" $(cat "$out/forwards-expand")
  fi
  if [ -s "$out/relax" ]; then
    run "$rel" relax-columns "$out/relax"
    log "$APP_NAME: made $(cut -d' ' -f2,3 --output-delimiter=. "$out/relax" | paste -sd' ' -) nullable until contract drops them: the new code's inserts leave them out (nullable-until-contract)"
  fi
else
  [ -z "$refused_rollback" ] || die "refusing to roll $APP_NAME back to $tag: $refused_rollback; nothing was changed"
  if [ -s "$work/extra" ]; then
    log "$APP_NAME: unapplying $(paste -sd' ' - <"$work/plan") with the code of $(cat "$newer/.fleet/tag")"
    # shellcheck disable=SC2046 # targets are label:name words (Python identifiers)
    run "$newer" migrate to $(cat "$work/targets")
  fi
  run "$rel" migrate to all
  if [ -s "$rel/.fleet/kept-defaults" ]; then
    # In the release's record, which the app's user (drop-defaults) reads; $work is the deploy user's own.
    sort -u -o "$rel/.fleet/kept-defaults" "$rel/.fleet/kept-defaults"
    chmod 0644 "$rel/.fleet/kept-defaults"
    run "$rel" drop-defaults "$rel/.fleet/kept-defaults"
    log "$APP_NAME: dropped the database defaults kept since expand: $(paste -sd' ' - <"$rel/.fleet/kept-defaults")"
    rm -f "$rel/.fleet/kept-defaults"
  fi
fi

applied "$work/after"
cp "$work/after" "$rel/.fleet/migrations-applied"
applied_now=$(comm -13 "$work/applied" "$work/after" | paste -sd, -)
unapplied=$(comm -23 "$work/applied" "$work/after" | paste -sd, -)
log "$APP_NAME $tag $phase: applied ${applied_now:-nothing}; unapplied ${unapplied:-nothing}"
printf '%s %s applied=%s unapplied=%s\n' "$tag" "$phase" "$applied_now" "$unapplied"
