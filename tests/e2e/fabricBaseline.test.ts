/**
 * The bench's baseline (bench/naive-fabric-deploy.sh, `naive_rollout_failed_requests`): the old
 * Fabric way really deploys on the test bed's nodes (every node ends up serving the new code)
 * and really drops requests while it does, which is what the rollout's figure is set beside.
 * The scripts it borrows from the rollout change under it: this file keeps it running.
 */
import { strict as assert } from "assert";
import { codeServedOn, naiveFabricDeploy } from "../../bench/realNodes";
import { Cluster } from "../../testbed/cluster";
import { DOMAIN, Load, LocalStack } from "../../testbed/localStack";
import { assertOk, withLocalStack } from "./testBed";

describe("e2e: the bench's Fabric-style baseline deploys in place, and drops requests doing it", function () {
  this.timeout(10 * 60 * 1000);
  const bed = withLocalStack({ appNodeCount: 2 });
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  it("v1 by the rollout, then v2 the Fabric way under load: every node serves v2, some requests failed", async () => {
    assertOk(await stack.up("v1"));
    assert.deepEqual(await codeServedOn(cluster.appNodes), { "node-1": "v1", "node-2": "v1" });
    const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    const runs = await naiveFabricDeploy(cluster, "v2");
    const { requests, failed, failures } = await load.stop();
    for (const [node, r] of Object.entries(runs)) assert.equal(r.code, 0, `the Fabric-style deploy on ${node}: ${r.stderr}`);
    assert.deepEqual(await codeServedOn(cluster.appNodes), { "node-1": "v2", "node-2": "v2" });
    assert.ok(requests > 50, `only ${requests} requests during the deploy`);
    assert.ok(failed > 0, `none of ${requests} requests failed while gunicorn restarted on every node at once`);
    assert.ok(
      failures.every((f) => /^(0|502|503|500) /.test(f)),
      `failures other than a refused or failed request: ${failures.join(" | ")}`,
    );
  });
});
