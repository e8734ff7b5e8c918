#!/usr/bin/python3 -I
# fleet-logship: the apps' journal shipped to CloudWatch Logs, one log group per app.
#
# Installed root-owned by cloud-init on every app node of an AWS stack (render/cloudInit.ts, with
# the stack's group prefix and region put in), run by fleet-logship.service. It follows the
# journal of the app units only (gunicorn@APP, fleet-process-APP:NAME, fleet-schedule-APP:NAME:
# what `npm run logs` reads over SSH) and sends each entry to the group @LOG_GROUP_PREFIX@APP
# (infra/logGroups.ts declares one per app, with fleet:logs.retentionDays), in a stream named
# after this node, each message prefixed by its process as `npm run logs` prints it (web, worker,
# schedule:tick). The group is never created here: an app the program does not declare has
# nowhere to go (said once, then its entries are dropped). The journal's cursor is saved after
# each batch CloudWatch took, so a restart neither loses nor repeats what was sent; a failure
# (throttling, the network) is retried with the same batch.
import json
import os
import re
import select
import socket
import subprocess
import sys
import time

GROUP_PREFIX = "@LOG_GROUP_PREFIX@"
REGION = "@AWS_REGION@"
OS_USER = re.compile(r"@OS_USER_PATTERN@")
CURSOR_FILE = "/var/lib/fleet-logship/cursor"
APP_UNITS = ["gunicorn@app_*.service", "fleet-process-app_*.service", "fleet-schedule-app_*.service"]
UNIT = re.compile(r"gunicorn@(?P<web>[^.]+)\.service|fleet-(?P<kind>process|schedule)-(?P<app>[^:]+):(?P<name>[a-z0-9-]+)\.service")
# PutLogEvents' limits: a batch of at most 10,000 events and 1,048,576 bytes (each event's UTF-8
# message plus 26), spanning less than 24 hours; an event of at most 256 KiB with its 26.
EVENT_OVERHEAD = 26
MAX_BATCH_EVENTS = 10000
MAX_BATCH_BYTES = 1048576
MAX_MESSAGE_BYTES = 262144 - EVENT_OVERHEAD
MAX_SPAN_MS = 24 * 3600 * 1000 - 1
# How long entries wait to be sent together (one call per group and batch, not per line).
FLUSH_SECONDS = 5


def log(message):
    print("fleet-logship: %s" % message, flush=True)


def message_of(entry):
    message = entry.get("MESSAGE")
    if isinstance(message, list):  # the journal's JSON gives a message that is not UTF-8 as bytes
        message = bytes(message).decode("utf-8", "replace")
    return message if isinstance(message, str) else ""


def event_of(entry):
    """(APP, EVENT) for a journal entry of an app's unit (systemd's own lines about the unit carry
    it in UNIT), else None: EVENT is CloudWatch's {timestamp (ms), message}."""
    for field in ("_SYSTEMD_UNIT", "UNIT"):
        m = UNIT.fullmatch(str(entry.get(field, "")))
        if not m:
            continue
        app = m.group("web") or m.group("app")
        if not OS_USER.fullmatch(app):
            return None
        process = "web" if m.group("web") else m.group("name") if m.group("kind") == "process" else "schedule:" + m.group("name")
        text = ("%s %s" % (process, message_of(entry))).encode("utf-8")[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore")
        return app, {"timestamp": int(entry.get("__REALTIME_TIMESTAMP", "0")) // 1000, "message": text}
    return None


def batches(events):
    """EVENTS (one group's, in journal order) as PutLogEvents batches: in time order, within the
    call's limits of count, bytes and time span."""
    out, current, size = [], [], 0
    for event in sorted(events, key=lambda e: e["timestamp"]):
        cost = len(event["message"].encode("utf-8")) + EVENT_OVERHEAD
        if current and (len(current) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES or event["timestamp"] - current[0]["timestamp"] > MAX_SPAN_MS):
            out.append(current)
            current, size = [], 0
        current.append(event)
        size += cost
    if current:
        out.append(current)
    return out


class Shipper:
    def __init__(self, client, stream):
        self.client = client
        self.stream = stream
        self.streams = set()
        self.missing = set()

    def send(self, app, events):
        """All of EVENTS in APP's group; an exception when CloudWatch did not take them."""
        group = GROUP_PREFIX + app
        if group in self.missing:
            return
        errors = self.client.exceptions
        try:
            if group not in self.streams:
                try:
                    self.client.create_log_stream(logGroupName=group, logStreamName=self.stream)
                except errors.ResourceAlreadyExistsException:
                    pass
                self.streams.add(group)
            for batch in batches(events):
                self.client.put_log_events(logGroupName=group, logStreamName=self.stream, logEvents=batch)
        except errors.ResourceNotFoundException:
            self.missing.add(group)
            log("%s: no such log group (the program declares one per app of the stack): %s's entries are not shipped" % (group, app))


def read_cursor():
    try:
        with open(CURSOR_FILE) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def save_cursor(cursor):
    os.makedirs(os.path.dirname(CURSOR_FILE), mode=0o700, exist_ok=True)
    with open(CURSOR_FILE + ".new", "w") as f:
        f.write(cursor)
    os.replace(CURSOR_FILE + ".new", CURSOR_FILE)


def follow(shipper):
    cursor = read_cursor()
    args = ["journalctl", "--follow", "--no-pager", "--quiet", "-o", "json"] + [a for u in APP_UNITS for a in ("-u", u)]
    args += ["--after-cursor", cursor] if cursor else []
    journal = subprocess.Popen(args, stdout=subprocess.PIPE)
    pending, last, since = {}, None, time.monotonic()
    while True:
        ready, _, _ = select.select([journal.stdout], [], [], FLUSH_SECONDS)
        if ready:
            line = journal.stdout.readline()
            if not line:
                raise SystemExit("journalctl ended (status %s)" % journal.wait())
            entry = json.loads(line)
            last = entry.get("__CURSOR", last)
            shipped = event_of(entry)
            if shipped:
                pending.setdefault(shipped[0], []).append(shipped[1])
        if last and time.monotonic() - since >= FLUSH_SECONDS:
            flush(shipper, pending)
            save_cursor(last)
            pending, last, since = {}, None, time.monotonic()


def flush(shipper, pending):
    """Every app's pending events sent, retried until CloudWatch takes them (the journal keeps
    what comes meanwhile: journalctl waits while this does not read)."""
    for app, events in pending.items():
        delay = 1
        while True:
            try:
                shipper.send(app, events)
                break
            except Exception as e:  # noqa: BLE001 - throttling, the network, expired credentials: all retried
                log("%s: sending %d entries failed (%s); again in %d s" % (app, len(events), str(e).splitlines()[0] if str(e) else type(e).__name__, delay))
                time.sleep(delay)
                delay = min(delay * 2, 60)


def main():
    import boto3  # Debian's python3-boto3 (cloud-init installs it); credentials: the node's role

    shipper = Shipper(boto3.client("logs", region_name=REGION), socket.gethostname())
    follow(shipper)


if __name__ == "__main__":
    sys.exit(main())
