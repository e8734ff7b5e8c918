/**
 * `npm run status` and maintenance mode on real local nodes: the status command reads the nodes
 * and the nginx host over SSH with the connections the applied state recorded (as it reads a
 * `pulumi stack export`), and maintenance: true in apps.yaml puts the edge's page up and down.
 */
import { strict as assert } from "assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { catalogText, DOMAIN, get, Load, LocalStack, APP_IDENTITY } from "../../testbed/localStack";
import type { Cluster } from "../../testbed/cluster";
import type { StatusReport } from "../../rollout/fleetStatus";
import { accessLogFile, ACCESS_LOG_FIELDS, MAINTENANCE_RETRY_AFTER_SECONDS } from "../../render/nginx";
import { assertOk, withLocalStack } from "./testBed";

const E2E_TIMEOUT = 15 * 60 * 1000;
const ROOT = path.resolve(__dirname, "..", "..");

/** `npm run status -- --stack alpha --state <the applied state> --apps <catalog> ...ARGS`. */
function status(stack: LocalStack, catalog: string, args: string[] = []): { code: number; stdout: string; stderr: string } {
  const state = path.join(stack.workDir, "state.json");
  const apps = path.join(stack.workDir, "status-apps.yaml");
  fs.writeFileSync(state, JSON.stringify(stack.state), { mode: 0o600 });
  fs.writeFileSync(apps, catalog);
  const r = spawnSync(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", "cli/status.ts", "--stack", "alpha", "--state", state, "--apps", apps, ...args],
    { cwd: ROOT, encoding: "utf8" },
  );
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr };
}

describe("e2e: npm run status and maintenance mode", function () {
  this.timeout(E2E_TIMEOUT);
  // Plain nodes (gunicorn daemonised with a pidfile): the reader's other way to see gunicorn; the
  // systemd way is the rehearsal's (tests/e2e/rehearse.test.ts, `serving`).
  const bed = withLocalStack({ appNodeCount: 2, init: "plain" });
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  it("after a clean rollout: no drift (exit 0), each node's tag and commit, gunicorn running, health ok, both nodes in the upstream", async () => {
    assertOk(await stack.up("v1"));
    assertOk(await stack.up("v2"));
    const r = status(stack, catalogText("v2"), ["--json"]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as StatusReport;
    assert.deepEqual(report.drift, []);
    const commit = (await cluster.exec(cluster.appNodes[0], `cat ${APP_IDENTITY.home}/current/.fleet/commit`)).stdout.trim();
    assert.match(commit, /^[0-9a-f]{40}$/);
    for (const node of ["node-1", "node-2"]) {
      assert.deepEqual(report.apps[0].nodes[node], {
        tag: "v2",
        commit,
        previous: "v1",
        processes: "running",
        health: "ok",
        pendingSwitch: false,
      });
    }
    assert.deepEqual(report.apps[0].edges, { "static-host": { upstream: ["node-1", "node-2"], maintenance: false } });
  });

  it("a node's release changed by hand: one drift line naming the node and the app, and the half-switch; exit 1", async () => {
    const node2 = cluster.appNodes[1];
    // By hand, as someone on the node would: `current` back to the release before.
    const back = (tag: string) => cluster.exec(node2, `cd ${APP_IDENTITY.home} && ln -sfn releases/${tag} .hand && mv -T .hand current`);
    assert.equal((await back("v1")).code, 0);
    try {
      const r = status(stack, catalogText("v2"));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^drift: polls on node-2: serves v1 \([0-9a-f]{12}\), the last deployment has v2$/m);
      assert.match(r.stdout, /^drift: polls: half-switched: node-1 serves v2; node-2 serves v1$/m);
      assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("drift: ")).length, 2, r.stdout);
    } finally {
      assert.equal((await back("v2")).code, 0);
    }
    assert.equal(status(stack, catalogText("v2")).code, 0);
  });

  it("maintenance: true serves the page through nginx with no request reaching the app, the nodes keep serving; off again under load with 0 failed requests", async () => {
    const edge = `http://${cluster.staticHost.address}`;
    const message = "Back at 14:00 (database upgrade).";
    assertOk(await stack.up(catalogText("v2", { lines: ["maintenance: true", `maintenanceMessage: ${message}`] })));
    const logFile = accessLogFile("polls");
    const mark = Number((await cluster.exec(cluster.staticHost, `wc -l < ${logFile}`)).stdout.trim());
    const load = new Load(`${edge}/`, DOMAIN, 4, 300, (s) => s === 503);
    await new Promise((r) => setTimeout(r, 2000));
    const during = await load.stop();
    assert.ok(during.requests > 20, `${during.requests} requests`);
    assert.equal(during.failed, 0, during.failures.join("\n"));
    const page = await get(`${edge}/polls/`, DOMAIN);
    assert.equal(page.status, 503);
    assert.equal(page.headers?.["retry-after"], String(MAINTENANCE_RETRY_AFTER_SECONDS));
    assert.ok(page.body.includes("polls is down for maintenance") && page.body.includes(message), page.body);
    // No request went to a node: nginx logged no upstream for any of them.
    const lines = (await cluster.exec(cluster.staticHost, `tail -n +${mark + 1} ${logFile}`)).stdout.trim().split("\n");
    assert.ok(lines.length >= during.requests, `${lines.length} log lines for ${during.requests} requests`);
    assert.deepEqual([...new Set(lines.map((l) => l.split(" ")[ACCESS_LOG_FIELDS.indexOf("upstream_addr")]))], ["-"]);
    // The nodes keep running and answer directly (health checks and the rollout go there).
    for (const n of cluster.appNodes) assert.equal(await stack.nodeRelease(n), "v2");
    const inMaintenance = JSON.parse(status(stack, catalogText("v2"), ["--json"]).stdout) as StatusReport;
    assert.equal((inMaintenance.apps[0].edges["static-host"] as { maintenance: boolean }).maintenance, true);

    // Leaving: every request answered, by the page or by the app; then only by the app.
    const leaving = new Load(`${edge}/`, DOMAIN, 4, 300, (s) => s === 200 || s === 503);
    assertOk(await stack.up("v2"));
    const off = await leaving.stop();
    assert.equal(off.failed, 0, off.failures.join("\n"));
    const after = new Load(`${edge}/`, DOMAIN);
    await new Promise((r) => setTimeout(r, 1000));
    const served = await after.stop();
    assert.ok(served.requests > 10);
    assert.equal(served.failed, 0, served.failures.join("\n"));
  });
});
