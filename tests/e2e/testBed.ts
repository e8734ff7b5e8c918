// What the e2e files share: a fresh test bed with an empty stack for the enclosing describe(),
// and the assertion that a rollout succeeded.
import { strict as assert } from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Cluster, ClusterOptions, startCluster } from "../../testbed/cluster";
import { ApplyResult } from "../../testbed/executor";
import { DOMAIN, Load, LocalStack, LocalStackOptions } from "../../testbed/localStack";

/** The rollout succeeded; else its error and the steps it skipped. */
export function assertOk(r: ApplyResult): void {
  assert.ok(r.ok, `the rollout failed: ${r.error}\nskipped: ${r.skipped.join(", ")}`);
}

/** A fresh test bed (two app nodes unless `opts` says otherwise) and an empty stack (with
 *  `stackOptions`) for the enclosing describe(), stopped and removed after it; FLEET_E2E_LOG=1
 *  prints the stack's log. Register it before the describe's own before() hooks: they run after. */
export function withLocalStack(
  opts: ClusterOptions = { appNodeCount: 2 },
  stackOptions?: LocalStackOptions,
): { cluster: Cluster; stack: LocalStack } {
  const bed = {} as { cluster: Cluster; stack: LocalStack };
  let work = "";
  before(async () => {
    bed.cluster = await startCluster(opts);
    work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-e2e-"));
    bed.stack = new LocalStack(bed.cluster, work, process.env.FLEET_E2E_LOG ? (l) => console.log(`      ${l}`) : undefined, stackOptions);
  });
  after(async () => {
    await bed.cluster?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });
  return bed;
}

/** `up` under continuous load through nginx; asserts it succeeded with no failed request (and
 *  enough requests to mean it). Resolves with the request count. */
export async function upUnderLoad(stack: LocalStack, catalog: string): Promise<number> {
  const load = new Load(`http://${stack.cluster.staticHost.address}/`, DOMAIN);
  const result = await stack.up(catalog);
  const { requests, failed, failures } = await load.stop();
  assertOk(result);
  assert.ok(requests > 50, `only ${requests} requests during the rollout`);
  assert.equal(failed, 0, `${failed} of ${requests} requests failed: ${failures.join(" | ")}`);
  return requests;
}
