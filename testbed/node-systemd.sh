# shellcheck shell=sh
# The systemd end of node-init.sh (INIT systemd): the node's PID 1 becomes systemd 252, the
# production process manager, running the node's OpenSSH server as a service; cloud-init's
# gunicorn@.service comes with the plan's user data (testbed/localStack.ts: firstBoot).
# Sourced by node-init.sh, which calls boot_systemd NAME STATE_DIR after its setup.

UNIT_DIR=/etc/systemd/system # on the node's /etc overlay: what is written or masked stays its own

# What a booting systemd would start that reaches beyond this node. The node's mount namespace
# and overlays keep its files private, but not the kernel's settings (sysctl, modules, binfmt,
# swap), the devices (udev), the superblock of / (remount-fs) or the host's /tmp and /var (the
# boot's tmpfiles clean /tmp: a node's is its own, but only because node-init mounted it so).
# All of sysinit.target's and local-fs.target's wants are masked but journald: the node boots
# fleet-node.target, which wants only the journal, D-Bus (systemctl as a non-root user) and sshd.
KEEP_UNITS="systemd-journald.service"
MASK_UNITS="systemd-remount-fs.service systemd-udevd.service systemd-udev-trigger.service systemd-logind.service ldconfig.service"

boot_systemd() {
  write_node_units "$1" "$2"
  mask_boot_units
  enter_own_cgroup "$2"
  # container=: what makes no sense in a container skips itself (ConditionVirtualization=!container).
  # The new cgroup namespace makes the node's cgroup the root of the cgroup2 mount systemd sees,
  # so it manages its own subtree and never the host's or another node's.
  exec env container=fleet-e2e unshare --cgroup -- /bin/sh -c \
    'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec /lib/systemd/systemd --unit=fleet-node.target'
}

# write_node_units NAME STATE_DIR
write_node_units() {
  cat >"$UNIT_DIR/fleet-node.target" <<UNIT
[Unit]
Description=fleet e2e node $1
Wants=systemd-journald.socket systemd-journald.service dbus.socket fleet-sshd.service
AllowIsolate=yes
UNIT
  cat >"$UNIT_DIR/fleet-sshd.service" <<UNIT
[Unit]
Description=OpenSSH server of fleet e2e node $1
After=systemd-journald.socket dbus.socket

[Service]
ExecStart=/usr/sbin/sshd -D -E $2/sshd.log
UNIT
}

mask_boot_units() {
  for unit in $MASK_UNITS $(ls /lib/systemd/system/sysinit.target.wants /etc/systemd/system/sysinit.target.wants \
    /lib/systemd/system/local-fs.target.wants 2>/dev/null); do
    case " $KEEP_UNITS " in *" $unit "*) continue ;; esac
    case $unit in *.service | *.target | *.mount | *.automount | *.path | *.socket) ln -sfn /dev/null "$UNIT_DIR/$unit" ;; esac
  done
}

# enter_own_cgroup STATE_DIR: this process (the node's PID 1) moves into the cgroup2 directory the test
# bed made for this node (STATE_DIR/cgroup: its path), and removes when the node stops
# (testbed/cluster.ts).
enter_own_cgroup() {
  cgroup=$(cat "$1/cgroup")
  echo $$ >"$cgroup/cgroup.procs"
}
