#!/bin/sh
# fleet_run.sh PROGRAM ARGS...                   a process of the app (fleet-process-APP:NAME)
# fleet_run.sh --schedule NAME PROGRAM ARGS...   one run of a schedule (fleet-schedule-APP:NAME)
#
# Copied into /srv/APP/shared by processes.sh; systemd runs it as the app's user in the serving
# release (WorkingDirectory=/srv/APP/current, so the working directory is the release the link
# pointed at when the unit started). Gives the command what the release's gunicorn and its
# manage.py steps get (lib.sh: release_python): the app's environment file (NAME='value' lines in
# sh quoting, which systemd's EnvironmentFile= does not read the same way), the release on
# PYTHONPATH, its STATIC_ROOT and tag, the platform's settings module when the release has it,
# and the release's virtualenv first on PATH. PROGRAM: `python` is the virtualenv's, a bare name
# the virtualenv's script (else the PATH's), a/b a file of the release; processes.sh checked that
# it is there before the switch. The words come from systemd's split of ExecStart (no shell).
set -eu
shared=$(dirname "$0")
rel=$(pwd -P)
set -a
# shellcheck disable=SC1091 # the app's environment file, written by prepare.sh
. "$shared/env"
set +a
PYTHONPATH=$rel
STATIC_ROOT=$rel/.fleet/static
FLEET_RELEASE_TAG=$(cat "$rel/.fleet/tag")
PATH=$rel/.fleet/venv/bin:$PATH
if [ -f "$rel/fleet_platform_settings.py" ]; then DJANGO_SETTINGS_MODULE=fleet_platform_settings; fi
export PYTHONPATH STATIC_ROOT FLEET_RELEASE_TAG PATH DJANGO_SETTINGS_MODULE

schedule=""
if [ "${1:-}" = --schedule ]; then
  schedule=$2
  shift 2
fi
program=$1
shift
case $program in
  python) program=$rel/.fleet/venv/bin/python ;;
  /*) ;;
  */*) program=$rel/$program ;;
esac
if [ -n "$schedule" ]; then
  exec "$rel/.fleet/venv/bin/python" "$shared/fleet_schedule.py" "$schedule" "$program" "$@"
fi
exec "$program" "$@"
