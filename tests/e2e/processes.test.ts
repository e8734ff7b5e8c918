/**
 * An app's background processes and schedules on real systemd nodes (issue 20): the fixture's v20
 * with a worker loop (`manage.py work`) and a minutely schedule (`manage.py tick`, which records
 * each run in the app's database). Upgrades and rollbacks under load with no failed request, the
 * worker restarted onto the serving release right after its node's switch and never absent longer
 * than its stop time, the tick run exactly once in every minute across the nodes (also while a node
 * is replaced, and while one is lost), `npm run logs` showing all three with their nodes, and a
 * removed process or app leaving nothing running.
 */
import { strict as assert } from "assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Cluster, NodeHandle } from "../../testbed/cluster";
import { APP, APP_IDENTITY, catalogText, LocalStack, STACK } from "../../testbed/localStack";
import { pushTag } from "../../testbed/fixtureTags";
import { assertOk, upUnderLoad, withLocalStack } from "./testBed";

const E2E_TIMEOUT = 20 * 60 * 1000;
const USER = APP_IDENTITY.osUser;
const WORKER = `fleet-process-${USER}:worker.service`;
const TICK_TIMER = `fleet-schedule-${USER}:tick.timer`;
const STOP_SECONDS = 30;
const PROCESS_LINE = `  worker: { command: python manage.py work, stopSeconds: ${STOP_SECONDS}, memoryMb: 96 }`;
const SCHEDULE_LINES = ["schedules:", '  tick: { command: python manage.py tick, cron: "* * * * *" }'];
const ROOT = path.resolve(__dirname, "..", "..");

const catalog = (tag: string, lines = ["processes:", PROCESS_LINE, ...SCHEDULE_LINES]) => catalogText(tag, { lines });

/** systemd's properties of a unit on a node. */
async function unitShow(cluster: Cluster, node: NodeHandle, unit: string, ...props: string[]): Promise<Record<string, string>> {
  const r = await cluster.exec(node, `systemctl show '${unit}' ${props.map((p) => `-p ${p}`).join(" ")}`);
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** The worker's lines in a node's journal since `since` (epoch seconds): [time, text]. */
async function workerLines(cluster: Cluster, node: NodeHandle, since: number): Promise<[number, string][]> {
  const r = await cluster.exec(
    node,
    `journalctl --no-pager -q -o short-unix -u '${WORKER}' --since @${Math.floor(since)} | grep -E 'worker (start|beat|stop)' || true`,
  );
  return r.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => [Number(l.split(" ")[0]), l] as [number, string]);
}

/** The release directory the worker's process runs in. */
async function workerRelease(cluster: Cluster, node: NodeHandle): Promise<string> {
  const { MainPID } = await unitShow(cluster, node, WORKER, "MainPID");
  assert.notEqual(MainPID, "0", `${node.name}: the worker does not run`);
  return path.basename((await cluster.exec(node, `readlink /proc/${MainPID}/cwd`)).stdout.trim());
}

describe("e2e: an app's processes and schedules on systemd nodes", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack({ appNodeCount: 2, spareNodeCount: 1, init: "systemd" });
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  it("a process whose program is not in the release is refused before any node switches", async () => {
    const r = await stack.up(catalog("v20", ["processes:", "  worker: nosuchprogram --queue mail", ...SCHEDULE_LINES]));
    assert.equal(r.ok, false);
    assert.match(
      r.error ?? "",
      /polls v20: process worker: its program 'nosuchprogram' is not in the release .*fix the command in apps\.yaml/,
    );
    for (const n of stack.nodes) assert.equal(await stack.currentOn(n), "", `${n.name} switched`);
  });

  it("v20: the worker runs on every node as the app's user in the release, in its own unit and cgroup; the tick's timer on every node", async () => {
    assertOk(await stack.up(catalog("v20")));
    for (const n of stack.nodes) {
      const u = await unitShow(
        cluster,
        n,
        WORKER,
        "ActiveState",
        "UnitFileState",
        "User",
        "ControlGroup",
        "MemoryMax",
        "TimeoutStopUSec",
        "KillSignal",
        "Restart",
        "WorkingDirectory",
      );
      assert.deepEqual(
        u,
        {
          ActiveState: "active",
          UnitFileState: "enabled",
          User: USER,
          ControlGroup: u.ControlGroup,
          MemoryMax: String(96 * 1024 * 1024),
          TimeoutStopUSec: `${STOP_SECONDS}s`,
          KillSignal: "15",
          Restart: "on-failure",
          WorkingDirectory: `${APP_IDENTITY.home}/current`,
        },
        n.name,
      );
      assert.ok(u.ControlGroup.endsWith(`/${WORKER}`), `${n.name}: not in a cgroup of its own: ${u.ControlGroup}`);
      assert.equal(await workerRelease(cluster, n), "v20", n.name);
      const timer = await unitShow(cluster, n, TICK_TIMER, "ActiveState", "TimersCalendar");
      assert.equal(timer.ActiveState, "active", n.name);
      assert.match(timer.TimersCalendar, /OnCalendar=\*-\*-\* \*:\*:00 UTC/, n.name);
    }
  });

  it("v20 -> v20-next -> v20 under load: 0 failed requests; after each switch the worker runs the serving release, never absent longer than its stop time", async () => {
    pushTag(cluster, "v20", "v20-next", "echo '# the next release' >> polls/views.py");
    for (const tag of ["v20-next", "v20"]) {
      const since = Date.now() / 1000 - 1;
      await upUnderLoad(stack, catalog(tag));
      for (const n of stack.nodes) {
        assert.equal(await stack.nodeRelease(n), tag, n.name);
        assert.equal(await workerRelease(cluster, n), tag, n.name);
        await new Promise((r) => setTimeout(r, 1500)); // a beat or two of the new worker
        const lines = await workerLines(cluster, n, since);
        assert.ok(lines.length > 4, `${n.name}: ${lines.length} worker lines`);
        assert.match(lines[lines.length - 1][1], new RegExp(`code=${tag} `), `${n.name}: ${lines[lines.length - 1][1]}`);
        assert.ok(
          lines.some(([, l]) => /worker stop code=/.test(l)),
          `${n.name}: the old worker was not stopped gracefully (SIGTERM)`,
        );
        const gaps = lines.slice(1).map(([t], i) => t - lines[i][0]);
        const worst = Math.max(...gaps);
        assert.ok(
          worst <= STOP_SECONDS,
          `${n.name}: the worker was absent ${worst.toFixed(1)} s, more than its stop time (${STOP_SECONDS} s)`,
        );
      }
    }
  });

  it("npm run logs shows the lines of web, the worker and the tick, each with its node", async () => {
    // The tick's first run (at the first minute boundary since v20 started the timers).
    for (
      let i = 0;
      i < 75 &&
      !/^[1-9]/.test(await stack.appQuery("SELECT count(*) FROM fleet_schedule_runs WHERE exit_status IS NOT NULL").catch(() => ""));
      i++
    ) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-logs-"));
    try {
      const outputs = path.join(work, "outputs.json");
      fs.writeFileSync(
        outputs,
        JSON.stringify({
          appReleases: { [APP]: { tag: "v20" } },
          infrastructure: { nodeAddresses: Object.fromEntries(stack.nodes.map((n, i) => [`node-${i + 1}`, n.address])) },
        }),
      );
      const logs = (...extra: string[]) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile(
            "node",
            [
              "-r",
              "ts-node/register/transpile-only",
              "cli/logs.ts",
              APP,
              "--stack",
              STACK,
              "--since",
              "30m",
              "--outputs",
              outputs,
              "--identity",
              cluster.privateKeyPath,
              "--known-hosts",
              path.join(work, "known_hosts"),
              ...extra,
            ],
            { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
            (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
          );
        });
      const all = await logs();
      assert.equal(all.code, 0, all.stderr);
      const lines = all.stdout.split("\n");
      for (const node of ["node-1", "node-2"]) {
        assert.ok(
          lines.some((l) => l.startsWith(`${node} web `) && /Booting worker|Listening at/.test(l)),
          `${node}: no gunicorn line`,
        );
        assert.ok(
          lines.some((l) => l.startsWith(`${node} worker `) && /worker beat \d+ code=v20 on /.test(l)),
          `${node}: no worker line`,
        );
      }
      assert.ok(
        lines.some((l) => /^node-[12] schedule:tick \S+ tick ran code=v20/.test(l)),
        "no tick run in the logs",
      );
      assert.ok(
        lines.some((l) => /^node-[12] schedule:tick \S+ fleet schedule tick \S+: exit 0 in [0-9.]+ s on node-[12]$/.test(l)),
        "no exit status and duration of a tick",
      );
      const worker = await logs("--process", "worker");
      assert.equal(worker.code, 0, worker.stderr);
      const wl = worker.stdout.trim().split("\n");
      assert.ok(wl.length > 10 && wl.every((l) => /^node-[12] worker /.test(l)), wl.slice(0, 3).join("\n"));
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it("a process removed from the catalog is stopped and its unit removed; the app removed leaves nothing running (and comes back)", async () => {
    assertOk(await stack.up(catalog("v20", SCHEDULE_LINES)));
    for (const n of stack.nodes) {
      const left = await cluster.exec(n, `ls /etc/systemd/system | grep -F '${WORKER}' || true; systemctl is-active '${WORKER}' || true`);
      assert.deepEqual(left.stdout.trim().split("\n"), ["inactive"], n.name);
      assert.equal((await unitShow(cluster, n, TICK_TIMER, "ActiveState")).ActiveState, "active");
    }
    assertOk(await stack.up("apps: []\n"));
    for (const n of stack.nodes) {
      const left = await cluster.exec(
        n,
        `ls /etc/systemd/system | grep -F '${USER}' || true; pgrep -u ${USER} || true; systemctl list-units --all --plain --no-legend 'fleet-*' | grep -F '${USER}' | grep -v 'not-found' || true`,
      );
      assert.equal(left.stdout.trim(), "", `${n.name} keeps: ${left.stdout}`);
    }
    assertOk(await stack.up(catalog("v20")));
  });
  /** Runs of the tick per minute (UTC, "HH:MM"), from the app's own record of them. */
  async function ticksPerMinute(since: Date): Promise<Map<string, string[]>> {
    const rows = (
      await stack.appQuery(
        `SELECT to_char(at AT TIME ZONE 'UTC', 'HH24:MI'), node FROM polls_ticks WHERE at >= '${since.toISOString()}' ORDER BY at`,
      )
    )
      .trim()
      .split("\n")
      .filter(Boolean);
    const perMinute = new Map<string, string[]>();
    for (const [minute, node] of rows.map((r) => r.split("|"))) perMinute.set(minute, [...(perMinute.get(minute) ?? []), node]);
    return perMinute;
  }

  /** Waits past the next minute boundary (and the run at it). */
  const nextMinute = () => new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 8_000));

  /** Waits until no run of the tick is under way (a loaded machine may take longer than a few
   *  seconds to start Django): a node is killed between runs, and the runs are counted when done.
   *  Only runs since `since`: an earlier test's app removal may have stopped one mid-run. */
  async function runsSettled(since: Date): Promise<void> {
    let running = "";
    for (let i = 0; i < 60; i++) {
      running = (
        await stack.appQuery(
          `SELECT count(*) FROM fleet_schedule_runs WHERE schedule = 'tick' AND exit_status IS NULL AND started >= '${since.toISOString().slice(0, 19)}Z'`,
        )
      ).trim();
      if (running === "0") return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.fail(`${running} run(s) of the tick still without an exit status after a minute`);
  }

  it("the tick ran exactly once in every minute across the nodes, also while node-1 is replaced and while a node is lost", async () => {
    const since = new Date();
    // Replaced: a new machine as node-1 (its timer starts after its switch), under load.
    const [old, other] = stack.nodes;
    stack.nodes = [cluster.spareNodes[0], other];
    await upUnderLoad(stack, catalog("v20"));
    assert.equal(cluster.isRunning(old), false, "the old node-1 was not terminated");
    await nextMinute();
    // Lost: the new node-1 dies between two runs; node-2's timer alone covers the next minutes.
    // (A node lost during a run leaves that time recorded and not run again: at most once,
    // docs/rollout.md.)
    await runsSettled(since);
    await cluster.kill(stack.nodes[0]);
    await nextMinute();
    await nextMinute();
    await runsSettled(since);
    const perMinute = await ticksPerMinute(since);
    const minutes = [...perMinute.keys()];
    assert.ok(minutes.length >= 4, `only ${minutes.length} minutes with a tick: ${minutes.join(" ")}`);
    // Every minute from the first run to the last, once: none skipped, none doubled.
    const first = Date.parse(`1970-01-01T${minutes[0]}:00Z`);
    const expected = Array.from({ length: minutes.length }, (_, i) => new Date(first + i * 60_000).toISOString().slice(11, 16));
    assert.deepEqual(minutes, expected, `minutes with a run: ${minutes.join(" ")}`);
    for (const [minute, nodes] of perMinute) assert.equal(nodes.length, 1, `${minute}: ran on ${nodes.join(", ")}`);
    const recorded = (
      await stack.appQuery(
        `SELECT count(*), count(*) FILTER (WHERE exit_status = 0) FROM fleet_schedule_runs WHERE schedule = 'tick' AND started >= '${since.toISOString().slice(0, 19)}Z'`,
      )
    ).trim();
    const ticks = [...perMinute.values()].flat().length;
    assert.equal(recorded, `${ticks}|${ticks}`, "fleet_schedule_runs does not record each run with its exit status");
    const lastNode = perMinute.get(minutes[minutes.length - 1])![0];
    assert.equal(lastNode, "node-2", "after node-1 was lost, the tick did not run on node-2");
  });
});
