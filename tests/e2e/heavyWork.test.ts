/**
 * The node-local semaphore on real nodes: six apps (the fixture under six names) staged at once,
 * as `pulumi up` starts them, on nodes whose fleet:nodes.heavyJobs is 2. The setting travels as
 * it does to EC2 (the plan's cloud-init user data, written on the node's first boot); each node's
 * own heavy-work log says how many heavy commands ran at once.
 */
import { strict as assert } from "assert";
import { Cluster } from "../../testbed/cluster";
import { heavyLogOf, parseHeavyLog, summarizeHeavyLog } from "../../testbed/heavyWork";
import { ApplyResult } from "../../testbed/executor";
import { fixtureFleetCatalog, fixtureFleetRepo, get, LocalStack } from "../../testbed/localStack";
import { NODE_CONFIG_FILE } from "../../rollout/layout";
import { withLocalStack } from "./testBed";

const APPS = ["alder", "birch", "cedar", "hazel", "maple", "rowan"];

describe("e2e: heavy stage work is bounded per node (fleet:nodes.heavyJobs 2, six apps at once)", function () {
  this.timeout(30 * 60 * 1000);
  const bed = withLocalStack({ appNodeCount: 2 }, { nodes: { heavyJobs: 2 } });
  let cluster: Cluster;
  let stack: LocalStack;
  let result: ApplyResult;
  before(async () => {
    ({ cluster, stack } = bed);
    stack.appSecrets = {}; // these apps list no secrets
    cluster.serveFixtureAs(APPS.map(fixtureFleetRepo));
    result = await stack.up(fixtureFleetCatalog(APPS, "v1", 8400));
  });

  it("every app is deployed and serves through nginx", async () => {
    assert.ok(result.ok, `${result.error}\nskipped: ${result.skipped.join(", ")}`);
    for (const app of APPS) {
      const page = await get(`http://${cluster.staticHost.address}/healthz`, `${app}.example.edu`);
      assert.equal(page.status, 200, `${app}: ${page.body.slice(0, 200)}`);
    }
  });

  it("the node's config file says 2, from the plan's cloud-init", async () => {
    for (const node of cluster.appNodes) {
      assert.match((await cluster.exec(node, `cat ${NODE_CONFIG_FILE}`)).stdout, /^HEAVY_JOBS=2$/m, node.name);
    }
  });

  it("never more than 2 heavy commands at once on a node, and every app's clone, virtualenv, pip and collectstatic ran in a slot", async () => {
    for (const node of cluster.appNodes) {
      const log = await heavyLogOf(cluster, node);
      const s = summarizeHeavyLog(log);
      assert.equal(s.peak, 2, `${node.name}: at most 2 at once, and six apps keep both slots busy`);
      assert.equal(s.highestSlot, 2, node.name);
      assert.equal(s.ended, s.started, `${node.name}: every heavy command ended`);
      const done = new Set(
        parseHeavyLog(log)
          .filter((e) => e.kind === "end")
          .map((e) => `${e.app} ${e.what}`),
      );
      for (const app of APPS)
        for (const what of ["clone", "virtualenv", "pip", "collectstatic"])
          assert.ok(done.has(`${app} ${what}`), `${node.name}: ${app} ${what}`);
    }
  });

  it("an install (prepare + stage) that waits for a slot says so, once per wait", () => {
    const stages = result.ran.filter((r) => /-install-node-\d+$/.test(r.name));
    assert.equal(stages.length, APPS.length * cluster.appNodes.length);
    const waits = stages.map((r) => r.stderr.split("\n").filter((l) => l.includes("waiting for one of 2 heavy-work slots")));
    assert.ok(
      waits.some((w) => w.length > 0),
      "six apps on two slots: some stage waited",
    );
    for (const [i, w] of waits.entries())
      assert.equal(new Set(w).size, w.length, `${stages[i].name} logged a wait twice: ${w.join(" | ")}`);
  });
});
