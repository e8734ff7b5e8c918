#!/bin/sh
# stage.sh APP TAG GIT_URL PIP_MODE
#   stdin: the repository's deploy key, then optionally the git host's known_hosts lines; or nothing
#
# Builds /srv/APP/releases/TAG on this node without moving any traffic: the tag's tree from
# a per-app mirror of the repository, a virtualenv keyed by the hash of requirements.txt
# (reused when unchanged), `manage.py check --deploy`, collectstatic into the release (its
# ManifestStaticFilesStorage manifest must sit next to the code that reads it), and the
# release's record: tag, commit, virtualenv hash, the migrations its code knows.
# The release is built under releases/.partial-TAG and renamed when complete, so a killed
# run leaves nothing half-made that a rerun would trust. Prints "TAG COMMIT".
# PIP_MODE: index (pip install from the package index; production) or system (a venv that
# sees the system site-packages, pip --no-index: machines without a package index).
set -eu
here=$(dirname "$0")
# shellcheck source=lib.sh
. "$here/lib.sh"

[ $# -eq 4 ] || die "usage: stage.sh APP TAG GIT_URL PIP_MODE"
check_git_url "$3"
case $4 in index | system) ;; *) die "pip mode '$4' is not allowed (index or system)" ;; esac
app_release "$1" "$2"
url=$3 pip_mode=$4
[ -d "$RELEASES" ] || die "$APP is not prepared on this node (run prepare.sh first)"
lock stage

if [ -f "$rel/.fleet/staged" ]; then
  log "$APP $tag already staged"
  printf '%s %s\n' "$tag" "$(cat "$rel/.fleet/commit")"
  exit 0
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

mirror=$APP_DIR/repo.git
if [ ! -d "$mirror/refs" ]; then
  rm -rf "$mirror"
  git clone --quiet --mirror -- "$url" "$mirror.tmp"
  mv "$mirror.tmp" "$mirror"
else
  git --git-dir="$mirror" remote set-url origin "$url"
  git --git-dir="$mirror" fetch --quiet --prune --tags origin
fi
commit=$(git --git-dir="$mirror" rev-parse --verify --quiet "refs/tags/$tag^{commit}") ||
  die "tag $tag does not exist in $url"

partial=$RELEASES/.partial-$(basename "$rel")
rm -rf "$partial"
mkdir -p "$partial/.fleet"
git --git-dir="$mirror" archive "$commit" | tar -x -C "$partial"
[ -f "$partial/manage.py" ] || die "$tag has no manage.py at the top of the repository"
[ -f "$partial/requirements.txt" ] || die "$tag has no requirements.txt"
printf '%s\n' "$tag" >"$partial/.fleet/tag"
printf '%s\n' "$commit" >"$partial/.fleet/commit"

# The virtualenv: same requirements, same Python, same mode -> same hash -> reused as is.
hash=$({ cat "$partial/requirements.txt"; echo "$pip_mode"; python3 --version; } | sha256sum | cut -c1-16)
venv=$VENVS/$hash
if [ ! -f "$venv/.fleet-complete" ]; then
  log "$APP $tag: building virtualenv $hash"
  rm -rf "$venv"
  if [ "$pip_mode" = system ]; then
    python3 -m venv --system-site-packages "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-index -r "$partial/requirements.txt"
  else
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$partial/requirements.txt"
    "$venv/bin/python" -c 'import gunicorn' 2>/dev/null ||
      "$venv/bin/pip" install --quiet --disable-pip-version-check gunicorn
  fi
  touch "$venv/.fleet-complete"
else
  log "$APP $tag: reusing virtualenv $hash"
fi
ln -sfn "$venv" "$partial/.fleet/venv"
printf '%s\n' "$hash" >"$partial/.fleet/venv-hash"
"$venv/bin/python" -m compileall -q "$partial" >/dev/null || true

sudo install -d -o "$APP" -g "$APP" -m 0755 "$partial/.fleet/static"
manage "$partial" check --deploy >&2
manage "$partial" collectstatic --noinput >&2
release_python "$partial" "$here/fleet_migrations.py" known >"$partial/.fleet/migrations-known"

touch "$partial/.fleet/staged"
rm -rf "$rel"
mv -T "$partial" "$rel"
log "$APP $tag staged ($commit)"
printf '%s %s\n' "$tag" "$commit"
