#!/bin/sh
# naive-fabric-deploy.sh SCRIPTS_DIR APP_USER TAG   (bench baseline only; never used to deploy)
#
# The old Fabric way, on one node, as `npm run bench` measures it against the rollout: the
# serving release directory is checked out to TAG in place, then pip install, collectstatic
# and migrate run there, and gunicorn restarts. The bench runs it on every node at once,
# as `fab -P` did. SCRIPTS_DIR is where the rollout copied its scripts (for the gunicorn helpers).
set -eu
here=$1
# shellcheck source=../node/rollout/lib.sh
. "$here/lib.sh"
# shellcheck source=../node/rollout/lib-gunicorn.sh
. "$here/lib-gunicorn.sh"
# APP_USER is the app's OS user (app_<name>), as the rollout's scripts take it.
app_release "$2" "$3"
dir=$(readlink -f "$CURRENT")

git --git-dir="$APP_DIR/repo.git" --work-tree="$dir" checkout -f "$tag" -- .
"$dir/.fleet/venv/bin/pip" install --quiet --disable-pip-version-check --no-index -r "$dir/requirements.txt"
printf '%s\n' "$tag" >"$dir/.fleet/tag"
manage "$dir" collectstatic --noinput >/dev/null
manage "$dir" migrate --noinput >/dev/null
gunicorn_stop
gunicorn_start
