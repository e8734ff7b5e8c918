#!/bin/sh
# stage.sh APP TAG GIT_URL PIP_MODE [OVERRIDES DEPLOY_CHECKS HEALTH_PATH]
#   stdin: the repository's deploy key, then optionally the git host's known_hosts lines; or nothing
#
# Builds /srv/APP/releases/TAG on this node without moving any traffic: the tag's tree from
# a per-app mirror of the repository, a virtualenv keyed by the hash of requirements.txt
# (reused when unchanged), the platform's settings module, collectstatic into the release (its
# ManifestStaticFilesStorage manifest must sit next to the code that reads it), the preflight
# (fleet_preflight.py: DEBUG, ALLOWED_HOSTS, STATIC_URL, missing assets, SSL redirect, a
# committed SECRET_KEY, check --deploy; an error stops here, before any node switches), and the
# release's record: tag, commit, virtualenv hash, the migrations its code knows.
# The release is built under releases/.partial-TAG and renamed when complete, so a killed
# run leaves nothing half-made that a rerun would trust. Prints "TAG COMMIT".
# PIP_MODE: index (pip install from the package index; production) or system (a venv that
# sees the system site-packages, pip --no-index: machines without a package index).
# OVERRIDES: what the platform's settings module sets (comma-separated, or none; default all),
# DEPLOY_CHECKS: warn or fail (check --deploy warnings), HEALTH_PATH: what the health check asks for.
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 4 ] || [ $# -eq 7 ] || die "usage: stage.sh APP_USER TAG GIT_URL PIP_MODE [OVERRIDES DEPLOY_CHECKS HEALTH_PATH]"
check_git_url "$3"
check_pip_mode "$4"
overrides=${5:-$FLEET_ALL_OVERRIDES} deploy_checks=${6:-warn} health_path=${7:-/}
check_overrides "$overrides"
check_deploy_checks "$deploy_checks"
check_health_path "$health_path"
app_release "$1" "$2"
url=$3 pip_mode=$4
[ -d "$RELEASES" ] || die "$APP_NAME is not prepared on this node (run prepare.sh first)"
lock stage

# What the platform's settings module sets in this release (fleet_platform_settings.py reads it):
# recorded in the release, so changing it in the catalog stages the release again, with its preflight.
platform_choice="overrides=$overrides deployChecks=$deploy_checks healthCheck=$health_path"
if [ -f "$rel/.fleet/staged" ]; then
  if [ "$(cat "$rel/.fleet/platform" 2>/dev/null)" = "$platform_choice" ]; then
    log "$APP_NAME $tag already staged"
    printf '%s %s\n' "$tag" "$(cat "$rel/.fleet/commit")"
    exit 0
  fi
  for link in "$CURRENT" "$PREVIOUS"; do
    if [ "$(readlink -e "$link" 2>/dev/null || true)" = "$rel" ]; then
      die "$APP_NAME $tag serves on this node with $(cat "$rel/.fleet/platform" 2>/dev/null || echo 'the platform settings of before'); a change to $platform_choice takes effect with the next release tag"
    fi
  done
  log "$APP_NAME $tag: staging again for $platform_choice"
fi

# Git access: a deploy key from stdin (GitHub over SSH), or none (https, file://). Host key
# lines after the key (GitHub's published keys) are the only ones trusted; without them the
# first connection's key is kept (trust on first use).
key=$APP_DIR/.deploy-key
known=$APP_DIR/.known_hosts
trap 'rm -f "$key" "$key.in" "$key.hosts"' EXIT
umask 077
cat >"$key.in"
split_git_access "$key.in" "$key" "$key.hosts"
umask 022
if [ -s "$key" ]; then
  check=accept-new
  if [ -s "$key.hosts" ]; then
    mv "$key.hosts" "$known"
    check=yes
  fi
  GIT_SSH_COMMAND="ssh -i $key -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=$check -o UserKnownHostsFile=$known"
  export GIT_SSH_COMMAND
fi

# Git runs as the deploy user, who holds the deploy key: a mirror clone, a fetch and an archive
# run no code of the repository (no hook runs on a bare mirror, and archive checks nothing out
# and applies no filter driver: those would come from the mirror's own config, which is ours).
mirror=$APP_DIR/repo.git
if [ ! -d "$mirror/refs" ]; then
  rm -rf "$mirror"
  heavy clone git clone --quiet --mirror -- "$url" "$mirror.tmp"
  mv "$mirror.tmp" "$mirror"
else
  git --git-dir="$mirror" remote set-url origin "$url"
  heavy fetch git --git-dir="$mirror" fetch --quiet --prune --tags origin
fi
commit=$(git --git-dir="$mirror" rev-parse --verify --quiet "refs/tags/$tag^{commit}") ||
  die "tag $tag does not exist in $url"

# refuse_platform_paths: what the platform writes into a release is its own; a tree that holds it
# (a committed .fleet symlink would make every write below land in another app's release) is
# refused, never followed.
refuse_platform_paths() {
  if [ -e "$partial/.fleet" ] || [ -L "$partial/.fleet" ]; then
    die "$tag has its own .fleet at the top of the repository: the platform keeps its record of the release under that name; remove it from the repository"
  fi
  if [ -e "$partial/fleet_platform_settings.py" ] || [ -L "$partial/fleet_platform_settings.py" ]; then
    die "$tag has its own fleet_platform_settings.py at the top of the repository: the platform's settings module needs that name"
  fi
}

# app_pip ARGS...: the virtualenv's pip, as the app's user (a wheel's or an sdist's build backend is
# the app's code), without a cache (its home is not its to write), in the release's directory: a
# requirement such as ./vendor/x.whl is relative to it.
app_pip() {
  (cd "$partial" && as_user env PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" "$@")
}

# preflight RELEASE: fleet_preflight.py's findings, one line each; its first error (if any)
# is the step's error, so no node switches to a release that would fail there or in front of users.
preflight() {
  _found=$1/.fleet/preflight
  if release_python "$1" "$here/fleet_preflight.py" "$deploy_checks" "$health_path" >"$_found" 2>"$_found.err"; then
    sed 's/^/fleet: /' "$_found" >&2
    return 0
  fi
  sed 's/^/fleet: /' "$_found" >&2
  _first=$(sed -n 's/^error: //p' "$_found" | head -n 1)
  [ -n "$_first" ] || { tail -n 30 "$_found.err" >&2; _first="$APP_NAME $tag: preflight failed: $(error_line <"$_found.err")"; }
  die "$_first"
}

# The release is unpacked and compiled, and its virtualenv built, by the app's user in fresh
# directories of that user (fleet-node build-dir), which the node helper then seals: they become
# the deploy user's, readable by the app and not writable by it, as its code always was.
name=$(basename "$rel")
partial=$RELEASES/.partial-$name
node_helper build-dir "$APP" release "$name"
git --git-dir="$mirror" archive "$commit" | as_user tar -x -C "$partial"
refuse_platform_paths
[ -f "$partial/manage.py" ] || die "$tag has no manage.py at the top of the repository"
[ -f "$partial/requirements.txt" ] || die "$tag has no requirements.txt"

# The virtualenv: same requirements, same Python, same mode -> same hash -> reused as is.
hash=$({ cat "$partial/requirements.txt"; echo "$pip_mode"; python3 --version; } | sha256sum | cut -c1-16)
venv=$VENVS/$hash
if [ ! -f "$venv/.fleet-complete" ]; then
  log "$APP_NAME $tag: building virtualenv $hash"
  node_helper build-dir "$APP" venv "$hash"
  if [ "$pip_mode" = system ]; then
    heavy virtualenv as_user python3 -m venv --system-site-packages "$venv"
    heavy pip pip_no_index app_pip install --quiet --no-index -r "$partial/requirements.txt"
  else
    heavy virtualenv as_user python3 -m venv "$venv"
    heavy pip app_pip install --quiet -r "$partial/requirements.txt"
    as_user "$venv/bin/python" -c 'import gunicorn' 2>/dev/null ||
      heavy pip app_pip install --quiet gunicorn
    # Media in the app's S3 bucket (fleet_platform_settings) needs django-storages with boto3.
    as_user "$venv/bin/python" -c 'import storages.backends.s3boto3' 2>/dev/null ||
      heavy pip app_pip install --quiet 'django-storages[s3]'
  fi
  node_helper seal "$APP" venv "$hash"
  touch "$venv/.fleet-complete"
else
  log "$APP_NAME $tag: reusing virtualenv $hash"
fi
as_user "$venv/bin/python" -m compileall -q "$partial" >/dev/null || true
node_helper seal "$APP" release "$name"
# Again now that nothing of the app's can write the tree: a build backend ran in it.
refuse_platform_paths

# The release's record, made fresh by the platform in the sealed tree.
mkdir "$partial/.fleet"
printf '%s\n' "$tag" >"$partial/.fleet/tag"
printf '%s\n' "$commit" >"$partial/.fleet/commit"
ln -sfn "$venv" "$partial/.fleet/venv"
printf '%s\n' "$hash" >"$partial/.fleet/venv-hash"

# The platform's settings module (DJANGO_SETTINGS_MODULE): the app's own settings, then what
# only the platform knows (platform_settings_module.py says what and why).
cp "$here/platform_settings_module.py" "$partial/fleet_platform_settings.py"
printf '%s\n' "$platform_choice" >"$partial/.fleet/platform"
node_helper static-dir "$APP" "$name"
heavy collectstatic run_or_die "$APP_NAME $tag: collectstatic" manage "$partial" collectstatic --noinput
heavy preflight preflight "$partial"
heavy migrations release_python "$partial" "$here/fleet_migrations.py" known >"$partial/.fleet/migrations-known"

touch "$partial/.fleet/staged"
node_helper rm "$APP" release "$name"
mv -T "$partial" "$rel"
log "$APP_NAME $tag staged ($commit)"
printf '%s %s\n' "$tag" "$commit"
