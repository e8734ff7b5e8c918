#!/bin/sh
# Waits until a machine's first-boot provisioning (cloud-init) has finished, then checks
# that what later commands rely on is there. Idempotent: on a provisioned machine it
# returns at once. Machines without cloud-init (local test nodes) only get the check.
#
# Usage: wait-for-cloud-init.sh COMMAND...   (the commands that must exist afterwards)
set -eu
# Daemons such as nginx live in sbin, which a non-login SSH session's PATH may lack (sshd
# without PAM, as on the e2e nodes): look there too.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

if command -v cloud-init >/dev/null 2>&1; then
    # Exit 2 means "done, with recoverable errors" (e.g. a deprecated key): not fatal here;
    # the command check below decides whether the machine is usable.
    rc=0
    cloud-init status --wait >/dev/null || rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
        echo "wait-for-cloud-init: cloud-init failed (status $rc); see /var/log/cloud-init-output.log" >&2
        exit 1
    fi
fi

missing=
for cmd in "$@"; do
    command -v "$cmd" >/dev/null 2>&1 || missing="$missing $cmd"
done
if [ -n "$missing" ]; then
    echo "wait-for-cloud-init: missing after provisioning:$missing" >&2
    exit 1
fi
echo "wait-for-cloud-init: ready"
