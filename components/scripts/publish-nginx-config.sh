#!/bin/sh
# Publishes the fleet's nginx server blocks on the static host.
#
# Usage: publish-nginx-config.sh [CONF_DIR [NGINX_CONF]]  < input
#   CONF_DIR    directory nginx includes (default /etc/nginx/conf.d; created if missing)
#   NGINX_CONF  nginx main config to test and reload (default: nginx's built-in path)
# Input (stdin): for each file a line "@@fleet-file fleet-<app>.conf" followed by its
# text, then a final line "@@fleet-end". The script owns the fleet-*.conf files in
# CONF_DIR: it writes the given ones, removes the others, runs `nginx -t`, and on
# failure puts the previous files back and fails; on success it reloads nginx
# gracefully. Same input twice: the second run changes nothing and does not reload.
set -eu
# Daemons such as nginx live in sbin, which a non-login SSH session's PATH may lack (sshd
# without PAM, as on the e2e nodes): look there too.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

CONF_DIR=${1:-/etc/nginx/conf.d}
NGINX_CONF=${2:-}

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi

nginx_cmd() {
    if [ -n "$NGINX_CONF" ]; then
        $SUDO nginx -c "$NGINX_CONF" "$@"
    else
        $SUDO nginx "$@"
    fi
}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/new" "$WORK/old"

# Split stdin into files; names are checked so nothing is written outside CONF_DIR.
awk -v dir="$WORK/new" '
    /^@@fleet-end$/ { ended = 1; next }
    ended { bad = "text after @@fleet-end"; exit }
    /^@@fleet-file / {
        name = substr($0, 14)
        if (name !~ /^fleet-[a-z0-9-]+\.conf$/) { bad = "bad file name " name; exit }
        if (out != "") close(out)
        out = dir "/" name
        printf "" > out
        next
    }
    out == "" { bad = "text before the first @@fleet-file line"; exit }
    { print > out }
    END {
        if (bad != "") { print "publish-nginx-config: " bad > "/dev/stderr"; exit 1 }
        if (!ended) { print "publish-nginx-config: input ends without @@fleet-end" > "/dev/stderr"; exit 1 }
    }
' 

$SUDO mkdir -p "$CONF_DIR"

# Unchanged? Same set of names and same bytes: nothing to do, no reload.
changed=0
for f in "$WORK"/new/fleet-*.conf; do
    [ -e "$f" ] || continue
    if ! cmp -s "$f" "$CONF_DIR/$(basename "$f")"; then changed=1; fi
done
for f in "$CONF_DIR"/fleet-*.conf; do
    [ -e "$f" ] || continue
    if [ ! -e "$WORK/new/$(basename "$f")" ]; then changed=1; fi
done
if [ "$changed" -eq 0 ]; then
    echo "publish-nginx-config: unchanged, nginx not reloaded"
    exit 0
fi

# Keep the current files so a config that fails `nginx -t` can be undone.
for f in "$CONF_DIR"/fleet-*.conf; do
    [ -e "$f" ] || continue
    cp -p "$f" "$WORK/old/"
done

install_set() {
    $SUDO find "$CONF_DIR" -maxdepth 1 -name 'fleet-*.conf' -type f -exec rm -f {} +
    for f in "$1"/fleet-*.conf; do
        [ -e "$f" ] || continue
        $SUDO install -m 0644 "$f" "$CONF_DIR/$(basename "$f")"
    done
}

install_set "$WORK/new"
if ! nginx_cmd -t -q; then
    install_set "$WORK/old"
    echo "publish-nginx-config: nginx -t rejected the new config; previous files restored" >&2
    exit 1
fi
# `nginx -s reload` only signals the master: wait until it has started workers with the new
# config, so whatever runs next (a health check) meets the new server blocks.
workers() { pgrep -f '^nginx: worker process' 2>/dev/null | sort || true; }
old_workers=$(workers)
nginx_cmd -s reload
i=0
while [ "$i" -lt 100 ]; do
    if workers | grep -qvxF "$old_workers"; then break; fi
    i=$((i + 1))
    sleep 0.1
done
echo "publish-nginx-config: published $(find "$WORK/new" -name 'fleet-*.conf' | wc -l) file(s), nginx reloaded"
