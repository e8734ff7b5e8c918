/**
 * The nodes' log shipper (node/provision/fleet-logship.py, as render/cloudInit.ts renders it for an
 * app node): which journal entries go to which app's CloudWatch group, as what, and in batches
 * PutLogEvents takes. Its pure functions, in a Python of their own; CloudWatch itself is not here
 * (no AWS): what CloudWatch does with the calls is not proven by this test.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LOG_SHIPPER, LOG_SHIPPER_UNIT, logShipperFiles, renderCloudInit } from "../../render/cloudInit";
import { callPython } from "../helpers/pythonModule";
import { appNodeSources } from "../../node/scripts";

const SOURCES = appNodeSources();

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl fleet";
const SHIPPING = { groupPrefix: "/fleet/alpha/", region: "eu-west-1" };
/** A journal entry of `unit` (as journalctl -o json writes it) at `usec`. */
const entry = (unit: string, message: unknown, usec = "1765160000123456", field = "_SYSTEMD_UNIT") => ({
  [field]: unit,
  MESSAGE: message,
  __REALTIME_TIMESTAMP: usec,
});

describe("fleet-logship: the apps' journal to their CloudWatch log groups", () => {
  let dir = "";
  let shipper = "";
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-logship-"));
    shipper = path.join(dir, "fleet_logship.py");
    fs.writeFileSync(shipper, logShipperFiles(SHIPPING, SOURCES.logShipper).find((f) => f.path === LOG_SHIPPER)!.content);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is an app node's, with the stack's group prefix and region, and its unit started by cloud-init; nothing without shipping", () => {
    const files = logShipperFiles(SHIPPING, SOURCES.logShipper);
    assert.deepEqual(
      files.map((f) => [f.path, f.permissions]),
      [
        [LOG_SHIPPER, "0755"],
        [`/etc/systemd/system/${LOG_SHIPPER_UNIT}`, "0644"],
      ],
    );
    assert.match(files[0].content, /^GROUP_PREFIX = "\/fleet\/alpha\/"$/m);
    assert.match(files[0].content, /^REGION = "eu-west-1"$/m);
    assert.doesNotMatch(files[0].content, /@[A-Z_]+@/);
    assert.match(files[1].content, /^ExecStart=\/usr\/local\/sbin\/fleet-logship$/m);
    assert.match(files[1].content, /^Restart=always$/m);
    assert.deepEqual(logShipperFiles(undefined, SOURCES.logShipper), []);
    assert.throws(
      () => logShipperFiles({ groupPrefix: "fleet alpha", region: "eu-west-1" }, SOURCES.logShipper),
      /^Error: cloud-init: log shipping to "fleet alpha"/,
    );
    assert.doesNotMatch(renderCloudInit({ role: "app-node", deployPublicKey: KEY }, SOURCES), /fleet-logship|boto3/);
    assert.match(renderCloudInit({ role: "app-node", deployPublicKey: KEY, logShipping: SHIPPING }, SOURCES), /python3-boto3/);
  });

  it("sends each entry of an app's unit to that app's group as 'PROCESS MESSAGE', at its journal time in ms; other units' entries nowhere", () => {
    const cases = [
      entry("gunicorn@app_polls.service", "Booting worker with pid: 7"),
      entry("fleet-process-app_polls:worker.service", "worker beat 3 code=v20"),
      entry("fleet-schedule-app_polls:tick.service", "tick ran code=v20"),
      // systemd's own line about the unit (its exit, its CPU time) names it in UNIT
      entry("fleet-schedule-app_polls:tick.service", "Finished fleet app_polls: schedule tick.", undefined, "UNIT"),
      entry("fleet-process-app_polls:worker.service", [104, 105, 255]),
      entry("sshd.service", "Accepted publickey for deploy"),
      entry("gunicorn@root.service", "not an app's user"),
      entry("fleet-process-app_polls:worker.timer", "no process of an app"),
    ];
    const shipped = callPython(
      shipper,
      cases.map((e) => ["event_of", e]),
    ).map((r) => (r.stdout === "" ? null : (JSON.parse(r.stdout) as unknown)));
    const at = 1765160000123;
    assert.deepEqual(shipped, [
      ["app_polls", { timestamp: at, message: "web Booting worker with pid: 7" }],
      ["app_polls", { timestamp: at, message: "worker worker beat 3 code=v20" }],
      ["app_polls", { timestamp: at, message: "schedule:tick tick ran code=v20" }],
      ["app_polls", { timestamp: at, message: "schedule:tick Finished fleet app_polls: schedule tick." }],
      ["app_polls", { timestamp: at, message: "worker hi\ufffd" }],
      null,
      null,
      null,
    ]);
  });

  it("batches a group's events in time order within PutLogEvents' limits: 10,000 events, 1 MiB with 26 bytes each, less than 24 hours, 256 KiB an event", () => {
    const event = (timestamp: number, bytes = 10) => ({ timestamp, message: "x".repeat(bytes) });
    const many = Array.from({ length: 10001 }, (_, i) => event(1000 + (i % 7)));
    const big = Array.from({ length: 5 }, (_, i) => event(i, 300000 - 26));
    const day = [event(0), event(24 * 3600 * 1000 - 1), event(24 * 3600 * 1000)];
    const [countSplit, sizeSplit, spanSplit, ordered, long] = callPython(shipper, [
      ["batches", many],
      ["batches", big],
      ["batches", day],
      ["batches", [event(5), event(1), event(3)]],
      ["event_of", entry("gunicorn@app_polls.service", "y".repeat(300000))],
    ]).map((r) => JSON.parse(r.stdout) as unknown);
    assert.deepEqual(
      (countSplit as unknown[][]).map((b) => b.length),
      [10000, 1],
    );
    assert.deepEqual(
      (sizeSplit as unknown[][]).map((b) => b.length),
      [3, 2],
    );
    assert.deepEqual(
      (spanSplit as { timestamp: number }[][]).map((b) => b.map((e) => e.timestamp)),
      [[0, 24 * 3600 * 1000 - 1], [24 * 3600 * 1000]],
    );
    assert.deepEqual(
      (ordered as { timestamp: number }[][])[0].map((e) => e.timestamp),
      [1, 3, 5],
    );
    assert.equal(Buffer.byteLength((long as [string, { message: string }])[1].message), 262144 - 26);
  });
});
