/**
 * The node helper's commands for an app's processes and schedules (node/provision/fleet-node.py,
 * as render/cloudInit.ts renders it): the unit texts it writes, and what it refuses before it
 * touches anything. Its functions are called in a Python of their own (no root, no systemd):
 * a refusal is the helper's one-line error and exit status 1.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { nodeHelper } from "../../render/cloudInit";
import { callPython, PythonResult } from "../helpers/pythonModule";
import { appNodeSources } from "../../node/scripts";

describe("fleet-node: an app's process and schedule units", () => {
  let dir = "";
  let helper = "";
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-node-"));
    helper = path.join(dir, "fleet_node.py");
    fs.writeFileSync(helper, nodeHelper(appNodeSources().nodeHelper));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const calls = (list: unknown[][]): PythonResult[] => callPython(helper, list);
  const call = (fn: string, ...args: unknown[]): PythonResult => calls([[fn, ...args]])[0];
  /** Each [pattern, function, args...] is refused with its one-line error, printing nothing. */
  const refused = (cases: [RegExp, string, ...unknown[]][]) => {
    const results = calls(cases.map(([, ...call]) => call));
    cases.forEach(([expected, fn, ...args], i) => {
      const r = results[i];
      assert.equal(r.status, 1, `${fn} ${args.join(" ")} was not refused: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr.trim(), expected);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.equal(r.stdout, "");
    });
  };

  it("renders a process's unit from its checked values: the app's user in its serving release, restart on failure, its stop time and memory", () => {
    const r = call("process_unit_text", "app_polls", "worker", "96", "30", "python manage.py work --queue mail");
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split("\n");
    for (const line of [
      "User=app_polls",
      "Group=app_polls",
      "WorkingDirectory=/srv/app_polls/current",
      "ExecStart=/bin/sh /srv/app_polls/shared/fleet_run.sh python manage.py work --queue mail",
      "Restart=on-failure",
      "KillSignal=SIGTERM",
      "TimeoutStopSec=30",
      "MemoryMax=96M",
      "NoNewPrivileges=true",
      "WantedBy=multi-user.target",
    ]) {
      assert.ok(lines.includes(line), `no line ${line} in:\n${r.stdout}`);
    }
  });

  it("renders a schedule's timer (its calendar, UTC) and the one run it starts", () => {
    const r = call("schedule_unit_texts", "app_polls", "tick", "*-*-* *:*:00 UTC", "python manage.py tick");
    assert.equal(r.status, 0, r.stderr);
    const [service, timer] = r.stdout.split("== ").slice(1);
    assert.match(service, /^fleet-schedule-app_polls:tick\.service\n/);
    assert.match(service, /^Type=oneshot$/m);
    assert.match(service, /^ExecStart=\/bin\/sh \/srv\/app_polls\/shared\/fleet_run\.sh --schedule tick python manage\.py tick$/m);
    assert.match(timer, /^fleet-schedule-app_polls:tick\.timer\n/);
    assert.match(timer, /^OnCalendar=\*-\*-\* \*:\*:00 UTC$/m);
    assert.match(timer, /^Unit=fleet-schedule-app_polls:tick\.service$/m);
  });

  it("refuses a name, a number, a command or a calendar outside the catalog's rules: no unit text from the caller", () => {
    const commands = ["python manage.py work\nExecStartPre=/bin/sh -c id", "sh -c 'id'", "python; id", "python %h", "", "x".repeat(501)];
    refused([
      [/^fleet: error: process name '\.\.\/x' is not allowed/, "process_unit_text", "app_polls", "../x", "96", "30", "python"],
      [/^fleet: error: process name 'Worker' is not allowed/, "process_unit_text", "app_polls", "Worker", "96", "30", "python"],
      [
        /^fleet: error: memory \(MiB\) '8' is not allowed \(a whole number from 16 to 16384\)$/,
        "process_unit_text",
        "app_polls",
        "worker",
        "8",
        "30",
        "python",
      ],
      [/^fleet: error: memory \(MiB\) '96M' is not allowed/, "process_unit_text", "app_polls", "worker", "96M", "30", "python"],
      [
        /^fleet: error: stop seconds '601' is not allowed \(a whole number from 1 to 600\)$/,
        "process_unit_text",
        "app_polls",
        "worker",
        "96",
        "601",
        "python",
      ],
      ...commands.map((command): [RegExp, string, ...unknown[]] => [
        /^fleet: error: command '.*' is not allowed \(at most 500 characters matching /,
        "process_unit_text",
        "app_polls",
        "worker",
        "96",
        "30",
        command,
      ]),
      [/^fleet: error: calendar 'daily' is not allowed/, "schedule_unit_texts", "app_polls", "tick", "daily", "python manage.py tick"],
      [
        /^fleet: error: calendar '.*' is not allowed/,
        "schedule_unit_texts",
        "app_polls",
        "tick",
        "*-*-* *:*:00 UTC\nOnCalendar=minutely",
        "python manage.py tick",
      ],
      [
        /^fleet: error: command 'python \$HOME' is not allowed/,
        "schedule_unit_texts",
        "app_polls",
        "tick",
        "*-*-* 3:17:00 UTC",
        "python $HOME",
      ],
    ]);
  });

  it("refuses another user's units, a wrong kind, action or mode, and a since that is no number, before systemd is asked", () => {
    refused([
      [/^fleet: error: app user 'root' is not allowed/, "cmd_unit_remove", "root", "process", "worker"],
      [/^fleet: error: process name '\*' is not allowed/, "cmd_unit_remove", "app_polls", "process", "*"],
      [/^fleet: error: process name 'a\*' is not allowed/, "cmd_process", "app_polls", "a*", "restart"],
      [/^fleet: error: app user 'sshd' is not allowed/, "cmd_logs", "sshd", "-", "0", "once"],
      [/^fleet: error: process name '\*' is not allowed/, "cmd_logs", "app_polls", "*", "0", "once"],
      [/^fleet: error: since '-1h' is not allowed/, "cmd_logs", "app_polls", "web", "-1h", "once"],
      [/^fleet: error: usage: fleet-node /, "check_args", ["journalctl", "-f"]],
      [
        /^fleet: error: process: 'stop' is not allowed \(restart, release, log\)$/,
        "check_args",
        ["process", "app_polls", "worker", "stop"],
      ],
      [
        /^fleet: error: unit-remove: 'gunicorn' is not allowed \(process, schedule\)$/,
        "check_args",
        ["unit-remove", "app_polls", "gunicorn", "x"],
      ],
      [/^fleet: error: logs: 'tail' is not allowed \(once, follow\)$/, "check_args", ["logs", "app_polls", "-", "0", "tail"]],
      [
        /^fleet: error: process-unit takes 5 argument\(s\)$/,
        "check_args",
        ["process-unit", "app_polls", "worker", "96", "30", "python", "manage.py"],
      ],
    ]);
  });
});
