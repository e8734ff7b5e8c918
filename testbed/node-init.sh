#!/bin/sh
# First process of one local e2e "node" (started by testbed/cluster.ts).
#
# It runs as root and as PID 1 of fresh PID, mount, network, UTS and IPC namespaces,
# so the node behaves like its own machine: its own address, hostname, users, /etc,
# /srv, /var/www, /home, /run and /tmp, its own process table (pkill on one node does
# not reach another). It sets all that up, then becomes the node's OpenSSH server, or
# (INIT systemd) the node's systemd, which runs that OpenSSH server as a service.
# When this process dies, the kernel kills everything started on the node and drops
# its mounts and network interface: nothing is left on the machine.
#
# Usage: node-init.sh NAME ADDRESS/PREFIX ROLE DEPLOY_USER STATE_DIR [INIT]
#   ROLE       app | static (static also runs nginx)
#   STATE_DIR  host directory holding deploy.pub (the deploy user's key), hosts
#              (lines for /etc/hosts), gitconfig (lines for /etc/gitconfig),
#              optionally sshd.conf (more sshd settings, such as MaxStartups), and
#              receiving sshd.log
#   INIT       plain (the default: sshd is PID 1) | systemd (systemd is PID 1, in the
#              cgroup2 directory STATE_DIR/cgroup names: testbed/node-systemd.sh)
set -eu

name=$1 cidr=$2 role=$3 deploy_user=$4 state=$5 init=${6:-plain}
address=${cidr%/*}
# Read now: the test bed's own files may live under /tmp (a clone there), which the node's
# private /tmp hides once it is mounted below.
if [ "$init" = systemd ]; then
  # shellcheck source=node-systemd.sh
  . "$(dirname "$0")/node-systemd.sh"
fi

# The host moves our end of a veth pair in as eth0 right after starting us.
tries=0
until ip link show eth0 >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -gt 1000 ]; then
    echo "node-init $name: eth0 never appeared" >&2
    exit 1
  fi
  sleep 0.01
done
ip link set lo up
ip addr add "$cidr" dev eth0
ip link set eth0 up
# No default route: the nodes reach each other and the host (PostgreSQL, on the
# gateway address) and nothing else, and anything aiming further (a package index,
# DNS) fails at once instead of timing out.
hostname "$name"

# Private state. tmpfs where a fresh machine has nothing of ours; overlays where a
# fresh machine has the distribution's files (/etc, /var/log, /usr/local, /opt):
# the node sees them but its writes (users, sudoers, nginx sites) stay its own.
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/sshd /run/lock
for dir in /srv /var/www /home; do
  mount -t tmpfs -o mode=755 tmpfs "$dir"
done
for dir in /tmp /var/tmp; do
  mount -t tmpfs -o mode=1777 tmpfs "$dir"
done
mkdir -m 700 /run/.node-overlays
for dir in /etc /var/log /usr/local /opt; do
  layer=/run/.node-overlays/$(echo "$dir" | tr / _)
  mkdir -p "$layer/upper" "$layer/work"
  mount -t overlay overlay -o "lowerdir=$dir,upperdir=$layer/upper,workdir=$layer/work" "$dir"
done

echo "$name" >/etc/hostname
cat "$state/hosts" >>/etc/hosts # every node's name, this one's too (sudo looks it up)
# The fixture repository stands in for GitHub; git would refuse it as a repository
# owned by someone else ("dubious ownership"), which a network remote never is.
cat "$state/gitconfig" >>/etc/gitconfig

# The login user, as on a cloud image: key login only, passwordless sudo.
useradd --create-home --shell /bin/bash "$deploy_user"
usermod -p '*' "$deploy_user" # unlocked (sshd refuses locked accounts) but no password
install -d -m 700 -o "$deploy_user" -g "$deploy_user" "/home/$deploy_user/.ssh"
install -m 600 -o "$deploy_user" -g "$deploy_user" "$state/deploy.pub" "/home/$deploy_user/.ssh/authorized_keys"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$deploy_user" >/etc/sudoers.d/90-fleet-e2e-deploy
chmod 440 /etc/sudoers.d/90-fleet-e2e-deploy

# Debian's stock sshd_config plus a drop-in (read first, so it wins): this node's
# address, its own host key, no PAM (no systemd/logind here), keys only.
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f /etc/ssh/ssh_host_ed25519_key
cat >/etc/ssh/sshd_config.d/00-fleet-e2e.conf <<CONF
ListenAddress $address
HostKey /etc/ssh/ssh_host_ed25519_key
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
CONF
if [ -f "$state/sshd.conf" ]; then cat "$state/sshd.conf" >>/etc/ssh/sshd_config.d/00-fleet-e2e.conf; fi

if [ "$role" = static ]; then
  # The static host, as cloud-init leaves it: Debian's nginx, which includes
  # /etc/nginx/conf.d/*.conf where deployments drop their sites.
  mkdir -p /var/www/html
  echo "fleet e2e static host $name" >/var/www/html/index.html
  nginx -t -q
  nginx
fi

if [ "$init" = plain ]; then
  exec /usr/sbin/sshd -D -E "$state/sshd.log"
fi
boot_systemd "$name" "$state"
