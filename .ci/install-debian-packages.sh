#!/bin/sh
# Installs, from Debian's packages, every package a test uses: what cloud-init
# installs on the EC2 nodes (python3, venv, git, Django, gunicorn, psycopg2, sudo,
# rsync, curl; django-storages with its boto3 backend for media in S3) plus the local stand-ins for the cloud (sshd for the nodes, nginx for
# the static host, PostgreSQL and MariaDB for RDS, haproxy for the load balancer in front of the
# nginx hosts), and openssl for the tests'
# certificates, shellcheck for the scripts and workflows. Idempotent: when everything is present it touches nothing and does
# not even run `apt-get update`.
# Services do not start on install here (policy-rc.d); testbed/cluster.ts starts them.
#
# --check [PACKAGE...]: installs nothing; prints "missing Debian packages: A B" and exits 1 when one
# of them (of this list without names) is not installed, else exits 0 silently. `npm run rehearse`
# asks this before it starts anything (testbed/prerequisites.ts), so the list lives here only.
set -eu

check_only=false
if [ "${1:-}" = --check ]; then
  check_only=true
  shift
fi

PACKAGES="openssh-server openssh-client nginx postgresql postgresql-client python3 python3-venv python3-pip
python3-django gunicorn python3-psycopg2 git sudo rsync curl procps util-linux iproute2 openssl
mariadb-server mariadb-client shellcheck python3-django-storages python3-django-storages-boto3 python3-boto3
haproxy"
[ $# -eq 0 ] || PACKAGES=$*

missing=""
for pkg in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $pkg"
  fi
done

if [ "$check_only" = true ]; then
  [ -z "$missing" ] || { echo "missing Debian packages:$missing"; exit 1; }
  exit 0
fi

if [ -z "$missing" ]; then
  echo "e2e dependencies: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-debian-packages.sh: missing Debian packages:$missing (run as root to install them)" >&2
  exit 1
fi

echo "e2e dependencies: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -q --no-install-recommends $missing
