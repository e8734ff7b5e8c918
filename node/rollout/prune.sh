#!/bin/sh
# prune.sh APP KEEP TAG
#
# After the rollout of TAG: keeps the KEEP newest releases on this node (by the time they were
# staged) and never TAG, the serving (current) or the previous one, whatever their age; then
# removes the virtualenvs
# no kept release uses, and partial builds a killed stage left behind.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 3 ] || die "usage: prune.sh APP KEEP TAG"
check_os_user "$1"
check_keep_releases "$2"
check_tag "$3"
app_paths "$1"
keep=$2
rolled_out=$(release_dir "$3")
[ -d "$RELEASES" ] || die "$APP_NAME is not prepared on this node"
lock stage

current=$(readlink -f "$CURRENT" 2>/dev/null || true)
previous=$(readlink -f "$PREVIOUS" 2>/dev/null || true)
removed=0
old=$(mktemp)
trap 'rm -f "$old"' EXIT
staged_newest_first | tail -n +"$((keep + 1))" >"$old"
while IFS= read -r dir; do
  if [ "$dir" = "$current" ] || [ "$dir" = "$previous" ] || [ "$dir" = "$rolled_out" ]; then continue; fi
  node_helper rm "$APP" release "${dir##*/}"
  removed=$((removed + 1))
done <"$old"
# A release's .fleet/static and a partial build are the app user's: hence the node helper.
for partial in "$RELEASES"/.partial-*; do
  if [ -e "$partial" ] || [ -L "$partial" ]; then node_helper rm "$APP" partial "${partial##*/.partial-}"; fi
done

in_use=$(for link in "$RELEASES"/*/.fleet/venv; do readlink -f "$link" 2>/dev/null || true; done)
for venv in "$VENVS"/*/; do
  venv=${venv%/}
  [ -d "$venv" ] || continue
  if ! printf '%s\n' "$in_use" | grep -Fqx -- "$venv"; then
    node_helper rm "$APP" venv "${venv##*/}"
    removed=$((removed + 1))
  fi
done
# Only on stderr: prune runs in the switch step, whose stdout is switch.sh's "TAG COMMIT".
log "$APP_NAME: kept $keep newest releases (and current, previous): $(find "$RELEASES" -mindepth 1 -maxdepth 1 ! -name '.*' | wc -l) on this node; removed $removed"
