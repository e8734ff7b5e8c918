#!/bin/sh
# migrate.sh APP TAG expand|contract
#
# Brings the database to exactly the migrations release TAG knows; runs once per app and
# release, from one node, as its own steps:
#  expand   (before any node switches) applies, with TAG's code, what TAG knows and the
#           database lacks. When the database has migrations TAG's code does not know (a
#           rollback), it checks here, before anything changes, that they can be unapplied:
#           an irreversible operation refuses the rollback, naming the migration.
#  contract (after every node serves TAG) unapplies those migrations with the newer code
#           that knows them (the release served before, else the newest staged one that
#           does), down to the newest
#           migration of each app label that TAG knows.
# Unapplying after the switch keeps every request working: the older code runs on the newer
# (additive) schema while the nodes move, never the newer code on the older schema.
# Records the applied migrations in the release (.fleet/migrations-applied). Prints a summary.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 3 ] || die "usage: migrate.sh APP TAG expand|contract"
case $3 in expand | contract) ;; *) die "phase '$3' is not allowed (expand or contract)" ;; esac
staged_release "$1" "$2"
phase=$3
lock migrate

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# applied FILE: the migrations the database has applied, sorted; a database that cannot be
# read stops the script with its error (never an empty list that would look like a fresh one).
applied() {
  if ! release_python "$rel" "$here/fleet_migrations.py" applied >"$work/applied.out" 2>"$work/applied.err"; then
    tail -n 20 "$work/applied.err" >&2
    die "$APP $tag: reading the migrations applied to the database failed: $(error_line <"$work/applied.err"); nothing was changed"
  fi
  sort "$work/applied.out" >"$1"
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
  die "cannot roll $APP back to $tag: the database has $(paste -sd' ' - <"$work/extra") which no release staged on this node knows how to unapply"
}

# backwards_plan NEWER: the unapply targets into $work/targets, after checking the plan.
# Per app label: the newest migration of that label that is applied and that TAG knows
# (migration names sort in order: 0001_, 0002_, ...), or zero.
backwards_plan() {
  comm -12 "$work/applied" "$work/known" >"$work/common"
  sed 's/\..*//' "$work/extra" | sort -u | while IFS= read -r label; do
    name=$(grep "^$label\\." "$work/common" | sort | tail -n 1 | sed 's/^[^.]*\.//')
    printf '%s:%s\n' "$label" "${name:-zero}"
  done >"$work/targets"
  # shellcheck disable=SC2046 # targets are label:name words (Python identifiers)
  if release_python "$1" "$here/fleet_migrations.py" unapply-plan $(cat "$work/targets") >"$work/plan" 2>"$work/why"; then
    return 0
  elif [ $? -eq 3 ]; then
    die "refusing to roll $APP back to $tag: $(sed -n 's/^IRREVERSIBLE //p' "$work/why" | paste -sd';' -); nothing was changed"
  fi
  die "cannot plan the rollback of $APP to $tag: $(error_line <"$work/why"); nothing was changed"
}

unapplied=""
if [ -s "$work/extra" ]; then
  newer=$(newer_code)
  backwards_plan "$newer"
  if [ "$phase" = contract ]; then
    log "$APP: unapplying $(paste -sd' ' - <"$work/plan") with the code of $(cat "$newer/.fleet/tag")"
    while IFS=: read -r label name; do
      manage "$newer" migrate --noinput "$label" "$name" >&2
    done <"$work/targets"
    unapplied=$(paste -sd, - <"$work/extra")
  else
    log "$APP: $(paste -sd' ' - <"$work/plan") will be unapplied once every node serves $tag"
  fi
fi
if [ "$phase" = expand ] && ! manage "$rel" migrate --noinput >"$work/out" 2>&1; then
  tail -n 20 "$work/out" >&2
  die "migrating $APP to $tag failed: $(error_line <"$work/out"); no node was switched"
fi

applied "$work/after"
cp "$work/after" "$rel/.fleet/migrations-applied"
applied_now=$(comm -13 "$work/applied" "$work/after" | paste -sd, -)
log "$APP $tag $phase: applied ${applied_now:-nothing}; unapplied ${unapplied:-nothing}"
printf '%s %s applied=%s unapplied=%s\n' "$tag" "$phase" "$applied_now" "$unapplied"
