"""One run of an app's schedule, on exactly one node (fleet_run.sh --schedule NAME PROGRAM ARGS...).

Every app node's timer fires at each time of the schedule's cron (fleet-schedule-APP:NAME.timer);
this decides, in the app's own database, which node runs it:
  1. a session advisory lock of the schedule (PostgreSQL pg_try_advisory_lock, MySQL GET_LOCK),
     held for the whole run: never two runs of one schedule at once (an occurrence whose time
     comes while the previous run still runs is not run, and says so);
  2. under it, the occurrence (the timer's time, to the minute, UTC) inserted into
     fleet_schedule_runs, whose primary key is (schedule, occurrence): a node that comes second
     finds it and does not run it again.
A node lost before its timer fires is covered by the others; one lost during a run releases the
lock when its session ends (TCP keepalives of a few seconds, set below), and its occurrence stays
recorded (at most once: the command may have done part of its work). Each run logs its start,
and its exit status and duration, to the journal and in its row.
"""
import os
import socket
import subprocess
import sys
import time

import django

TABLE = "fleet_schedule_runs"
# PostgreSQL's two-key advisory lock: this class (b"flee") and the schedule's hash.
LOCK_CLASS = 0x666C6565


def log(message):
    print("fleet schedule %s" % message, flush=True)


def occurrence_of(now):
    """The time the timer fired for, to the minute (a cron's granularity): the run starts within
    seconds of it (AccuracySec=1s). systemd 251+ also passes TRIGGER_TIMER_REALTIME_USEC, but
    systemd 252 keeps the first activation's value for a unit's later runs (seen on the test bed:
    every run of a minutely timer got the same minute), so it is believed only when it is recent."""
    usec = os.environ.get("TRIGGER_TIMER_REALTIME_USEC")
    t = int(usec) / 1e6 if usec and abs(now - int(usec) / 1e6) < 30 else now
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t - t % 60))


def try_lock(cursor, vendor, name):
    if vendor == "postgresql":
        # A lost node's session (and its lock) ends within about 15 s, not the server's 2 hours.
        cursor.execute("SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 5")
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [LOCK_CLASS, name])
    else:
        cursor.execute("SELECT GET_LOCK(CONCAT('fleet-schedule:', DATABASE(), ':', %s), 0)", [name])
    return bool(cursor.fetchone()[0])


def ensure_table(cursor):
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS %s (schedule VARCHAR(64) NOT NULL, occurrence VARCHAR(20) NOT NULL, "
        "node VARCHAR(255) NOT NULL, started VARCHAR(32) NOT NULL, exit_status INTEGER NULL, "
        "seconds DOUBLE PRECISION NULL, PRIMARY KEY (schedule, occurrence))" % TABLE
    )


def claim(connection, name, occurrence, node):
    """True when this node recorded the occurrence first."""
    from django.db import IntegrityError, transaction

    try:
        with transaction.atomic():
            with connection.cursor() as c:
                c.execute(
                    "INSERT INTO %s (schedule, occurrence, node, started) VALUES (%%s, %%s, %%s, %%s)" % TABLE,
                    [name, occurrence, node, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())],
                )
        return True
    except IntegrityError:
        return False


def holder(connection, name, occurrence):
    with connection.cursor() as c:
        c.execute("SELECT node FROM %s WHERE schedule = %%s AND occurrence = %%s" % TABLE, [name, occurrence])
        row = c.fetchone()
    return row[0] if row else None


def main():
    name, command = sys.argv[1], sys.argv[2:]
    node = socket.gethostname()
    occurrence = occurrence_of(time.time())
    django.setup()
    from django.db import connection

    with connection.cursor() as c:
        if not try_lock(c, connection.vendor, name):
            log("%s %s: not run on %s: another node holds its lock (running it, or a run of an earlier time still running)" % (name, occurrence, node))
            return 0
        for attempt in (1, 2):  # two schedules creating the table at once: one of them retries
            try:
                ensure_table(c)
                break
            except Exception:  # noqa: BLE001 - the table's creation raced another schedule's
                if attempt == 2:
                    raise
    if not claim(connection, name, occurrence, node):
        log("%s %s: not run on %s: already run on %s" % (name, occurrence, node, holder(connection, name, occurrence)))
        return 0
    log("%s %s: start on %s: %s" % (name, occurrence, node, " ".join(command)))
    started = time.monotonic()
    status = subprocess.call(command)
    seconds = time.monotonic() - started
    with connection.cursor() as c:
        c.execute("UPDATE %s SET exit_status = %%s, seconds = %%s WHERE schedule = %%s AND occurrence = %%s" % TABLE, [status, seconds, name, occurrence])
    log("%s %s: exit %d in %.2f s on %s" % (name, occurrence, status, seconds, node))
    connection.close()  # ends the session: the lock goes with it
    return status


if __name__ == "__main__":
    sys.exit(main())
