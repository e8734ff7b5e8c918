// An app's processes and schedules (issue 20), as pure code: the catalog fields and their
// messages, a cron as systemd's OnCalendar, processes.sh's arguments in the rollout plan, the
// capacity check's process memory, and `npm run logs`' command lines and output lines.
import { strict as assert } from "assert";
import { ALL_OVERRIDES, AppForStack, formatError, parseCatalog } from "../../config/catalog";
import { cronProblem, DEFAULT_PROCESS_MEMORY_MB, DEFAULT_STOP_SECONDS, onCalendar } from "../../config/processes";
import { checkCapacity } from "../../rollout/capacity";
import { DEFAULT_DEPLOY_SETTINGS } from "../../config/deployConfig";
import { renderCommand, rolloutPlan } from "../../rollout/plan";
import { formatEntry, journalCommand, logsTargets, processOfUnit, sshArgs } from "../../render/appLogs";

/** A one-app catalog with `lines` in the app's map (4-space indent). */
function catalog(lines: string[]): string {
  return [
    "apps:",
    "  - name: polls",
    "    repo: uni-it/polls",
    "    domain: polls.example.edu",
    "    settings: pollsite.settings",
    "    wsgi: pollsite.wsgi:application",
    "    tags:",
    "      alpha: v1",
    ...lines,
    "",
  ].join("\n");
}
const errors = (lines: string[]) => parseCatalog(catalog(lines), "apps.yaml", { knownStacks: ["alpha"] }).errors.map(formatError);
const app = (lines: string[]) => {
  const r = parseCatalog(catalog(lines), "apps.yaml", { knownStacks: ["alpha"] });
  assert.deepEqual(r.errors, []);
  return r.catalog!.apps[0];
};

describe("processes and schedules in the catalog", () => {
  it("reads the short and the long form of a process, with the defaults, and schedules with their calendar", () => {
    const a = app([
      "    processes:",
      "      worker: python manage.py work",
      "      celery: { command: celery -A proj  worker --concurrency 2, memoryMb: 256, stopSeconds: 60 }",
      "    schedules:",
      '      clearsessions: { command: python manage.py clearsessions, cron: "17 3 * * *" }',
    ]);
    assert.deepEqual(a.processes, [
      { name: "celery", command: "celery -A proj worker --concurrency 2", memoryMb: 256, stopSeconds: 60 },
      { name: "worker", command: "python manage.py work", memoryMb: DEFAULT_PROCESS_MEMORY_MB, stopSeconds: DEFAULT_STOP_SECONDS },
    ]);
    assert.deepEqual(a.schedules, [
      { name: "clearsessions", command: "python manage.py clearsessions", cron: "17 3 * * *", onCalendar: "*-*-* 3:17:00 UTC" },
    ]);
    assert.deepEqual([app([]).processes, app([]).schedules], [[], []]);
  });

  for (const [what, lines, message] of [
    [
      "a shell metacharacter",
      ["    processes:", "      worker: python manage.py work; rm -rf /"],
      /^apps\.yaml:10:15: polls\.processes\.worker\.command: "python manage\.py work; rm -rf \/" is not allowed: one line of words .*no shell reads them\)$/,
    ],
    [
      "a quoted word",
      ["    processes:", `      worker: "python manage.py work --name 'a b'"`],
      /polls\.processes\.worker\.command: .* is not allowed/,
    ],
    ["a variable", ["    processes:", "      worker: python manage.py work $HOME"], /polls\.processes\.worker\.command: .* is not allowed/],
    [
      "a systemd specifier",
      ["    processes:", "      worker: python manage.py work %h"],
      /polls\.processes\.worker\.command: .* is not allowed/,
    ],
    [
      "a command too long",
      ["    processes:", `      worker: python ${"a".repeat(500)}`],
      /polls\.processes\.worker\.command: is longer than 500 characters$/,
    ],
    [
      "a bad process name",
      ["    processes:", "      Worker_1: python manage.py work"],
      /polls\.processes\.Worker_1: name "Worker_1" is not allowed: lowercase letters/,
    ],
    [
      "an unknown key",
      ["    processes:", "      worker: { command: python w, memory: 3 }"],
      /polls\.processes\.worker\.memory: unknown key; allowed keys: command, memoryMb, stopSeconds$/,
    ],
    [
      "a stop time out of bounds",
      ["    processes:", "      worker: { command: python w, stopSeconds: 0 }"],
      /polls\.processes\.worker\.stopSeconds: must be from 1 to 600 seconds$/,
    ],
    [
      "a cron of 6 fields",
      ["    schedules:", '      s: { command: python w, cron: "0 17 3 * * *" }'],
      /polls\.schedules\.s\.cron: "0 17 3 \* \* \*" is not allowed: a cron expression has 5 fields .* this has 6$/,
    ],
    [
      "a cron out of range",
      ["    schedules:", '      s: { command: python w, cron: "60 * * * *" }'],
      /polls\.schedules\.s\.cron: .*minute "60": values from 0 to 59/,
    ],
    [
      "a schedule without cron",
      ["    schedules:", "      s: { command: python w }"],
      /polls\.schedules\.s\.cron: is required|must be a 5-field cron/,
    ],
  ] as [string, string[], RegExp][]) {
    it(`refuses ${what} in one line naming the file, line and field`, () => {
      const errs = errors(lines);
      assert.equal(errs.length, 1, errs.join("\n"));
      assert.match(errs[0], message);
    });
  }
});

describe("a cron as systemd's OnCalendar (UTC)", () => {
  for (const [cron, calendar] of [
    ["* * * * *", "*-*-* *:*:00 UTC"],
    ["17 3 * * *", "*-*-* 3:17:00 UTC"],
    ["*/15 * * * 1-5", "Mon,Tue,Wed,Thu,Fri *-*-* *:0,15,30,45:00 UTC"],
    ["0 0 1 */3 *", "*-1,4,7,10-1 0:0:00 UTC"],
    ["30 2 * * 0,7", "Sun *-*-* 2:30:00 UTC"],
    ["5/20 8-17/3 * 1,6 *", "*-1,6-* 8,11,14,17:5,25,45:00 UTC"],
    ["  0   12 * *  * ", "*-*-* 12:0:00 UTC"],
  ]) {
    it(`${JSON.stringify(cron)} -> ${calendar}`, () => assert.equal(onCalendar(cron), calendar));
  }

  it("refuses what no calendar says as cron means it, and names in fields", () => {
    assert.match(cronProblem("0 0 1 * 1")!, /day of month or the day of week, not both/);
    assert.match(cronProblem("0 0 * JAN *")!, /month "JAN": use numbers/);
    assert.match(cronProblem("0 5-3 * * *")!, /hour "5-3"/);
    assert.match(cronProblem("*/0 * * * *")!, /a step is at least 1/);
    assert.match(cronProblem("")!, /this has 0$/);
    assert.throws(() => onCalendar("@daily"), /5 fields/);
  });
});

const APP: AppForStack = {
  name: "polls",
  repo: "uni-it/polls",
  domain: "polls.example.edu",
  settings: "s.settings",
  wsgi: "s.wsgi:application",
  migrations: true,
  acknowledgeMigrations: [],
  tags: { alpha: "v2" },
  tag: "v2",
  env: {},
  secrets: [],
  healthCheck: "/healthz",
  keepReleases: 3,
  port: 8123,
  overrides: ALL_OVERRIDES,
  deployChecks: "warn",
  processes: [{ name: "worker", command: "python manage.py work", memoryMb: 96, stopSeconds: 10 }],
  schedules: [{ name: "tick", command: "python manage.py tick", cron: "* * * * *", onCalendar: "*-*-* *:*:00 UTC" }],
};

describe("processes and schedules in the rollout plan", () => {
  it("each switch step checks the programs in the staged release first, applies the units after the switch, and removes them on delete", () => {
    const p = rolloutPlan(APP, ["node-1", "node-2"], "0123456789abcdef", DEFAULT_DEPLOY_SETTINGS);
    const sw = p.steps.find((s) => s.name === "polls-switch-node-2")!;
    const addresses = { "node-2": "10.0.2.12" };
    const specs = "process worker 96 10 'python manage.py work' schedule tick '*-*-* *:*:00 UTC' 'python manage.py tick'";
    assert.equal(
      renderCommand(p.scriptsDir, sw.run!, addresses),
      `sh ${p.scriptsDir}/processes.sh check app_polls v2 ${specs} && ` +
        `sh ${p.scriptsDir}/switch.sh app_polls v2 10.0.2.12 8123 polls.example.edu /healthz 30 && ` +
        `sh ${p.scriptsDir}/processes.sh apply app_polls v2 ${specs} && sh ${p.scriptsDir}/prune.sh app_polls 3 v2`,
    );
    assert.equal(renderCommand(p.scriptsDir, sw.remove!, addresses), `sh ${p.scriptsDir}/processes.sh remove app_polls`);
  });
});

describe("the capacity check counts process memory", () => {
  it("adds every process's memoryMb to the gunicorn workers of each node", () => {
    const input = {
      settings: { gunicornWorkers: 3, workerMemoryMb: 64 },
      instanceType: "t3.nano",
      stackFile: "Pulumi.alpha.yaml",
      appsFile: "apps.yaml",
    };
    // 4 workers x 64 = 256 MiB fit in 512; with a 300 MiB process they do not.
    assert.deepEqual(checkCapacity({ ...input, apps: [{ ...APP, workers: 4, processes: [] }] }).warnings, []);
    const r = checkCapacity({
      ...input,
      apps: [{ ...APP, workers: 4, processes: [{ name: "celery", command: "celery", memoryMb: 300, stopSeconds: 30 }] }],
    });
    assert.equal(r.warnings.length, 1);
    assert.match(
      r.warnings[0],
      /4 gunicorn workers x 64 MiB \(fleet:deploy\.workerMemoryMb\) \+ 300 MiB of processes \(memoryMb\) = 556 MiB on each app node, t3\.nano has 512 MiB/,
    );
  });
});

describe("npm run logs: command lines and lines", () => {
  it("reads gunicorn, the processes and the schedules' runs of the app's OS user, or one of them", () => {
    assert.equal(
      journalCommand({ app: "polls", since: "1h", follow: false }),
      "sudo -n /usr/local/sbin/fleet-node logs app_polls - 3600 once",
    );
    assert.equal(
      journalCommand({ app: "polls", process: "web", follow: true }),
      "sudo -n /usr/local/sbin/fleet-node logs app_polls web 0 follow",
    );
    assert.equal(
      journalCommand({ app: "polls", process: "tick", since: "15m", follow: false }),
      "sudo -n /usr/local/sbin/fleet-node logs app_polls tick 900 once",
    );
    assert.throws(
      () => journalCommand({ app: "polls", since: "1h; reboot", follow: false }),
      /--since "1h; reboot" is not allowed: a number and s, m, h or d/,
    );
    assert.throws(() => journalCommand({ app: "polls", process: "a*", follow: false }), /--process "a\*" is not allowed/);
    assert.throws(() => journalCommand({ app: "Polls", follow: false }), /app "Polls" is not an app name/);
  });

  it("reaches each node through the bastion from the stack's outputs", () => {
    const { targets, bastion } = logsTargets(
      { appReleases: { polls: {} }, infrastructure: { nodeAddresses: { "node-1": "10.0.1.11" }, staticHostIp: "198.51.100.7" } },
      "polls",
      "alpha",
    );
    assert.deepEqual(targets, [{ node: "node-1", address: "10.0.1.11" }]);
    const args = sshArgs(targets[0], { user: "deploy", bastion, identity: "/k", knownHosts: "/kh" }, "CMD");
    assert.deepEqual(args.slice(-4), ["-J", "deploy@198.51.100.7", "deploy@10.0.1.11", "CMD"]);
    assert.ok(args.includes("BatchMode=yes") && args.includes("UserKnownHostsFile=/kh") && args.includes("/k"), args.join(" "));
    assert.throws(() => logsTargets({ appReleases: { other: {} } }, "polls", "alpha"), /polls does not run on stack alpha/);
  });

  it("prefixes each of the app's entries with its node and process; other units' lines are dropped", () => {
    assert.equal(processOfUnit("polls", "gunicorn@app_polls.service"), "web");
    assert.equal(processOfUnit("polls", "fleet-process-app_polls:worker.service"), "worker");
    assert.equal(processOfUnit("polls", "fleet-schedule-app_polls:tick.service"), "schedule:tick");
    assert.equal(processOfUnit("polls", "fleet-process-app_other:worker.service"), undefined);
    const entry = (fields: Record<string, unknown>) => JSON.stringify({ __REALTIME_TIMESTAMP: "1796680800123456", ...fields });
    assert.equal(
      formatEntry("polls", "node-2", entry({ _SYSTEMD_UNIT: "fleet-process-app_polls:worker.service", MESSAGE: "worker beat 3" })),
      "node-2 worker 2026-12-07T22:00:00.123Z worker beat 3",
    );
    assert.equal(
      formatEntry(
        "polls",
        "node-1",
        entry({ _SYSTEMD_UNIT: "init.scope", UNIT: "fleet-schedule-app_polls:tick.service", MESSAGE: "Finished" }),
      ),
      "node-1 schedule:tick 2026-12-07T22:00:00.123Z Finished",
    );
    assert.equal(formatEntry("polls", "node-1", entry({ _SYSTEMD_UNIT: "sshd.service", MESSAGE: "x" })), undefined);
    assert.equal(formatEntry("polls", "node-1", "not json"), undefined);
  });
});
