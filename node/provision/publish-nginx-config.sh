#!/bin/sh
# Publishes the fleet's nginx server blocks, certificates and private keys on the static host.
#
# Usage: publish-nginx-config.sh keys TLS_DIR                          < keys
#        publish-nginx-config.sh sites CONF_DIR TLS_DIR [NGINX_CONF]   < server blocks, certificates
#        publish-nginx-config.sh access WEB_ROOT PUBLISH_USER          < publish access
#   CONF_DIR      directory nginx includes (created if missing)
#   TLS_DIR       certificates and keys, root only (created)
#   WEB_ROOT      where each app's static files live: WEB_ROOT/<app user>/static
#   PUBLISH_USER  the unprivileged user the nodes publish static files as (created if missing)
#   (all given by infra/edgeHost.ts, from the remote layout in rollout/layout.ts)
#   NGINX_CONF    nginx main config to test and reload (default: nginx's built-in path)
# Input (stdin): for each file a line "@@fleet-file NAME" followed by its text, then a final
# line "@@fleet-end".
#
# keys: NAME is fleet-<app>-<id>.key, where <id> names the certificate the key belongs to.
#   Writes them into TLS_DIR (mode 0600), never removes any, never reloads. A separate step
#   so that only the keys are secret: the server blocks stay readable in a plan.
# sites: NAME is fleet-<app>.conf (into CONF_DIR), fleet-0-server-names.conf (http-level settings
#   sized for the sites' domains, into CONF_DIR: no app name starts with a digit) or
#   fleet-<app>-<id>.crt (into TLS_DIR).
#   The script owns those fleet-* files: it writes the given ones, removes the others, runs
#   `nginx -t`, and on failure puts the previous files back and fails; on success it reloads
#   nginx gracefully and removes the keys no certificate uses any more. Keys never change
#   under a certificate (a new certificate has a new <id>), so the previous files always
#   have theirs. Same input twice: the second run changes nothing and does not reload. After a
#   reload it returns once the old workers have finished their requests (at most 60 s): a
#   node taken out of every upstream has then no request in flight from this host.
# access: NAME is fleet-publish-keys or fleet-web-roots (render/publishAccess.ts): the publish
#   user's authorized_keys (root's file, so the user cannot widen it) and the app users whose
#   static directories exist (made here, owned by the publish user); a directory whose app left
#   the list is removed. Before any app publishes: the nodes' publish steps depend on it.
set -eu
# Keys pass through the work directory: nobody else may read them there.
umask 077
# Daemons such as nginx live in sbin, which a non-login SSH session's PATH may lack (sshd
# without PAM, as on the e2e nodes): look there too.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

fail() {
    echo "publish-nginx-config: $*" >&2
    exit 1
}

MODE=${1:-}
case $MODE in
    keys)
        TLS_DIR=${2:-}
        NAMES='^fleet-[a-z0-9-]+-[0-9a-f]{12}\.key$'
        ;;
    sites)
        CONF_DIR=${2:-}
        TLS_DIR=${3:-}
        NGINX_CONF=${4:-}
        NAMES='^fleet-[a-z0-9-]+(\.conf|-[0-9a-f]{12}\.crt)$'
        ;;
    access)
        WEB_ROOT=${2:-}
        PUBLISH_USER=${3:-}
        TLS_DIR=-
        NAMES='^fleet-publish-keys$|^fleet-web-roots$'
        ;;
    *) MODE= ;;
esac
if [ -z "$MODE" ] || [ -z "$TLS_DIR" ] || { [ "$MODE" = sites ] && [ -z "$CONF_DIR" ]; } ||
    { [ "$MODE" = access ] && { [ -z "$WEB_ROOT" ] || [ -z "$PUBLISH_USER" ]; }; }; then
    fail "usage: publish-nginx-config.sh keys TLS_DIR | sites CONF_DIR TLS_DIR [NGINX_CONF] | access WEB_ROOT PUBLISH_USER"
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/new" "$WORK/old"

# Split stdin into files. awk only keeps names to one safe path component (its regexps
# differ between awks); grep then holds each name to this mode's pattern.
awk -v dir="$WORK/new" '
    /^@@fleet-end$/ { ended = 1; next }
    ended { bad = "text after @@fleet-end"; exit }
    /^@@fleet-file / {
        name = substr($0, 14)
        if (name !~ /^fleet-[a-z0-9.-]+$/) { bad = "bad file name " name; exit }
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

for f in "$WORK"/new/*; do
    [ -e "$f" ] || continue
    printf '%s\n' "$(basename "$f")" | grep -Eqx "$NAMES" || fail "bad file name $(basename "$f") for $MODE"
done

PUBLISH_HOME=/home/${PUBLISH_USER:-}

check_user() {
    printf '%s\n' "$1" | grep -Eqx '[a-z_][a-z0-9_-]{0,31}' || fail "bad app user name in fleet-web-roots: $1"
}

# The publish user (no password, not locked: sshd without PAM refuses a locked account), its
# authorized_keys, and every listed app's static directory, which only it writes.
grant_publish_access() {
    if ! id -u "$PUBLISH_USER" >/dev/null 2>&1; then
        $SUDO useradd --system --user-group --home-dir "$PUBLISH_HOME" --no-create-home --shell /bin/sh -p '*' "$PUBLISH_USER"
    fi
    $SUDO install -d -o root -g root -m 0755 "$PUBLISH_HOME" "$PUBLISH_HOME/.ssh" "$WEB_ROOT"
    $SUDO install -o root -g root -m 0644 "$WORK/new/fleet-publish-keys" "$PUBLISH_HOME/.ssh/authorized_keys"
    while read -r user; do
        check_user "$user"
        $SUDO install -d -o root -g root -m 0755 "$WEB_ROOT/$user"
        $SUDO install -d -o "$PUBLISH_USER" -g "$PUBLISH_USER" -m 0755 "$WEB_ROOT/$user/static"
        # Files published before there was a publish user (as the deploy user) become its own.
        if [ -n "$($SUDO find "$WEB_ROOT/$user/static" ! -user "$PUBLISH_USER" -print -quit)" ]; then
            $SUDO chown -R "$PUBLISH_USER:$PUBLISH_USER" "$WEB_ROOT/$user/static"
        fi
    done <"$WORK/new/fleet-web-roots"
}

# The static directories of apps that left the list go.
remove_left_web_roots() {
    if $SUDO test -f "$PUBLISH_HOME/web-roots"; then
        $SUDO cat "$PUBLISH_HOME/web-roots" | while read -r user; do
            grep -Fqx -- "$user" "$WORK/new/fleet-web-roots" && continue
            check_user "$user"
            $SUDO rm -rf -- "${WEB_ROOT:?}/$user"
            echo "publish-nginx-config: removed $WEB_ROOT/$user (its app left)"
        done
    fi
    $SUDO install -o root -g root -m 0644 "$WORK/new/fleet-web-roots" "$PUBLISH_HOME/web-roots"
}

if [ "$MODE" = access ]; then
    for f in fleet-publish-keys fleet-web-roots; do
        [ -f "$WORK/new/$f" ] || fail "input lacks $f"
    done
    # Every name checked before anything changes.
    while read -r user; do check_user "$user"; done <"$WORK/new/fleet-web-roots"
    grant_publish_access
    remove_left_web_roots
    echo "publish-nginx-config: publish access for $(wc -l <"$WORK/new/fleet-web-roots") app(s)"
    exit 0
fi

$SUDO install -d -m 0700 "$TLS_DIR"

if [ "$MODE" = keys ]; then
    written=0 unchanged=0
    for f in "$WORK"/new/fleet-*.key; do
        [ -e "$f" ] || continue
        if $SUDO cmp -s "$f" "$TLS_DIR/$(basename "$f")"; then
            unchanged=$((unchanged + 1))
        else
            $SUDO install -m 0600 "$f" "$TLS_DIR/$(basename "$f")"
            written=$((written + 1))
        fi
    done
    echo "publish-nginx-config: $written key(s) written, $unchanged unchanged"
    exit 0
fi

nginx_cmd() {
    if [ -n "$NGINX_CONF" ]; then
        $SUDO nginx -c "$NGINX_CONF" "$@"
    else
        $SUDO nginx "$@"
    fi
}

$SUDO mkdir -p "$CONF_DIR"

# dest NAME: where a file of that name lives.
dest() {
    case $1 in
        *.conf) printf '%s/%s' "$CONF_DIR" "$1" ;;
        *) printf '%s/%s' "$TLS_DIR" "$1" ;;
    esac
}

# owned: the server blocks and certificates on the host now.
owned() {
    $SUDO find "$CONF_DIR" -maxdepth 1 -type f -name 'fleet-*.conf'
    $SUDO find "$TLS_DIR" -maxdepth 1 -type f -name 'fleet-*.crt'
}

# A certificate whose key the keys step did not write would fail `nginx -t`: say why instead.
for f in "$WORK"/new/fleet-*.crt; do
    [ -e "$f" ] || continue
    key=$(basename "$f" .crt).key
    $SUDO test -f "$TLS_DIR/$key" || fail "no key $key in $TLS_DIR for $(basename "$f") (the keys step writes it first)"
done

# Unchanged? Same set of names and same bytes: nothing to do, no reload.
changed=0
for f in "$WORK"/new/fleet-*; do
    [ -e "$f" ] || continue
    if ! $SUDO cmp -s "$f" "$(dest "$(basename "$f")")"; then changed=1; fi
done
for f in $(owned); do
    if [ ! -e "$WORK/new/$(basename "$f")" ]; then changed=1; fi
done
if [ "$changed" -eq 0 ]; then
    echo "publish-nginx-config: unchanged, nginx not reloaded"
    exit 0
fi

# Keep the current files so a config that fails `nginx -t` can be undone.
for f in $(owned); do
    $SUDO cp -p "$f" "$WORK/old/"
done

install_set() {
    owned | while read -r f; do $SUDO rm -f "$f"; done
    for f in "$1"/fleet-*; do
        [ -e "$f" ] || continue
        $SUDO install -m 0644 "$f" "$(dest "$(basename "$f")")"
    done
}

install_set "$WORK/new"
if ! nginx_cmd -t -q; then
    install_set "$WORK/old"
    fail "nginx -t rejected the new config; previous files restored"
fi
# `nginx -s reload` only signals the master: wait until it has started workers with the new
# config and no old worker still accepts connections, so whatever comes next (a health check,
# a client of a renewed certificate) meets the new server blocks. nginx retitles an old worker
# "... is shutting down" when it closes its listening sockets; it may finish requests after that.
master=$($SUDO cat "$(nginx_cmd -T 2>/dev/null | awk '$1 == "pid" { sub(/;$/, "", $2); print $2; exit }')" 2>/dev/null ||
    $SUDO cat /run/nginx.pid 2>/dev/null || true)
workers() { pgrep -P "${master:-1}" -f '^nginx: worker process' 2>/dev/null | sort || true; }
old_accepting() {
    for p in $old_workers; do
        if [ "$(tr -d '\0' <"/proc/$p/cmdline" 2>/dev/null)" = "nginx: worker process" ]; then return 0; fi
    done
    return 1
}
old_workers=$(workers)
nginx_cmd -s reload
i=0
while [ "$i" -lt 100 ]; do
    if workers | grep -qvxF "$old_workers" && ! old_accepting; then break; fi
    i=$((i + 1))
    sleep 0.1
done

# The drain: the old workers finish the requests they have in flight (one to a node that has just
# left an upstream, say) and exit. Only then may what they were talking to go away, which the
# engine does after this step: it deletes replaced and removed nodes last (docs/infrastructure.md,
# "Replacing or removing a node"). Bounded by nginx's proxy_read_timeout, 60 s (its default; the
# sites set none): a node that has sent nothing for that long has failed the request already.
old_alive() {
    for p in $old_workers; do
        case $(tr -d '\0' <"/proc/$p/cmdline" 2>/dev/null) in "nginx: worker process"*) return 0 ;; esac
    done
    return 1
}
i=0
while old_alive; do
    if [ "$i" -ge 600 ]; then
        echo "publish-nginx-config: old nginx workers still busy after 60 s (a longer response); going on without them" >&2
        break
    fi
    i=$((i + 1))
    sleep 0.1
done

# The running nginx uses only the keys of the published certificates now: drop the others.
for f in $($SUDO find "$TLS_DIR" -maxdepth 1 -type f -name 'fleet-*.key'); do
    if [ ! -e "$WORK/new/$(basename "$f" .key).crt" ]; then $SUDO rm -f "$f"; fi
done

certificates=$(find "$WORK/new" -name 'fleet-*.crt' | wc -l)
echo "publish-nginx-config: published $(find "$WORK/new" -name 'fleet-[a-z]*.conf' | wc -l) file(s)$([ "$certificates" -eq 0 ] || echo " and $certificates certificate(s)"), nginx reloaded"
