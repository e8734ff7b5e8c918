/**
 * Proof on real nodes that the machines under the apps change under load without a failed
 * request (issue 10, part 1): a new machine replacing node-1, a node added, a node removed.
 * The program's plan runs as the engine orders it: creates and updates in dependency order,
 * then the deletes (the old steps of a replacement, the steps of a removed node), and last the
 * old instance, whose machine LocalStack then terminates. Asserted on the real nginx host: what
 * its upstream lists while the new node's switch runs, and after; and when each step started.
 */
import { strict as assert } from "assert";
import { Cluster, NodeHandle } from "../../testbed/cluster";
import { ApplyResult, Operation, Ran } from "../../testbed/executor";
import { APP, DOMAIN, Load, LocalStack } from "../../testbed/localStack";
import { PlanResource } from "../../offline/plan";
import { nginxFileName, SITES_STEP } from "../../render/nginx";
import { withLocalStack } from "./testBed";

const E2E_TIMEOUT = 20 * 60 * 1000;

interface Started {
  name: string;
  op: Operation;
  at: number;
}

interface Run {
  result: ApplyResult;
  started: Started[];
  ended: (Ran & { at: number })[];
  requests: number;
  failed: number;
  failures: string[];
}

/** `up` under continuous load through nginx, with when each step started and ended; `watch`
 *  sees each step as it starts. */
async function upUnderLoad(stack: LocalStack, catalog: string, watch?: (r: PlanResource, op: Operation) => void): Promise<Run> {
  const load = new Load(`http://${stack.cluster.staticHost.address}/`, DOMAIN);
  const started: Started[] = [];
  const ended: (Ran & { at: number })[] = [];
  const result = await stack.up(catalog, {
    onStart: (r, op) => {
      started.push({ name: r.name, op, at: Date.now() });
      watch?.(r, op);
    },
    onDone: (ran) => ended.push({ ...ran, at: Date.now() }),
  });
  const counts = await load.stop();
  return { result, started, ended, ...counts };
}

function assertOk(run: Run): void {
  assert.ok(run.result.ok, `the run failed: ${run.result.error}\nskipped: ${run.result.skipped.join(", ")}`);
  assert.ok(run.requests > 50, `only ${run.requests} requests during the run`);
  assert.equal(run.failed, 0, `${run.failed} of ${run.requests} requests failed: ${run.failures.join(" | ")}`);
}

/** The sites step published the new upstream only after `switched` passed, and every delete
 *  (of a replaced or removed node's steps) started after the sites step, drain included, ended. */
function assertOrder(run: Run, switched: string | undefined, deleted: string): void {
  const sitesStart = run.started.find((s) => s.name === SITES_STEP);
  const sitesEnd = run.ended.find((e) => e.name === SITES_STEP);
  assert.ok(sitesStart && sitesEnd?.ok, `${SITES_STEP} did not run: ${run.ended.map((e) => e.name).join(" ")}`);
  if (switched) {
    const sw = run.ended.find((e) => e.name === switched && e.op === "create");
    assert.ok(sw?.ok && sw.at <= sitesStart.at, `${switched} had not passed when ${SITES_STEP} started`);
  }
  const deletes = run.started.filter((s) => s.op === "delete");
  assert.ok(
    deletes.some((d) => d.name === deleted),
    `no delete of ${deleted}: ${deletes.map((d) => d.name).join(" ")}`,
  );
  for (const d of deletes)
    assert.ok(d.at >= sitesEnd.at, `${d.name}'s delete started ${sitesEnd.at - d.at} ms before ${SITES_STEP} had drained`);
}

describe("e2e: node replacement and node count changes under load", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack({ appNodeCount: 2, spareNodeCount: 2 });
  let cluster: Cluster;
  let stack: LocalStack;

  /** The addresses the nginx host's upstream of the app lists now. */
  async function upstream(): Promise<string[]> {
    const r = await cluster.exec(cluster.staticHost, `cat ${cluster.nginxConfDir}/${nginxFileName(APP)}`);
    assert.equal(r.code, 0, r.stderr);
    return [...r.stdout.matchAll(/^ {4}server ([0-9.]+):\d+ /gm)].map((m) => m[1]).sort();
  }
  const addresses = (nodes: NodeHandle[]) => nodes.map((n) => n.address).sort();

  before(async () => {
    ({ cluster, stack } = bed);
    const first = await stack.up("v1");
    assert.ok(first.ok, first.error);
    assert.deepEqual(await upstream(), addresses(cluster.appNodes));
  });

  it("a new machine replaces node-1: traffic reaches it only after its switch passed, the old one leaves every upstream and drains before anything is deleted; 0 failed requests", async () => {
    const [old, other] = cluster.appNodes;
    const fresh = cluster.spareNodes[0];
    stack.nodes = [fresh, other];
    let atSwitch: Promise<string[]> | undefined;
    const run = await upUnderLoad(stack, "v1", (r, op) => {
      if (r.name === `${APP}-switch-node-1` && op === "create") atSwitch = upstream();
    });
    assertOk(run);
    assert.ok(atSwitch, "no switch ran on the new node");
    assert.deepEqual(await atSwitch, addresses([old, other]), "the new node was in the upstream before its switch");
    assert.deepEqual(await upstream(), addresses([fresh, other]));
    assertOrder(run, `${APP}-switch-node-1`, `${APP}-install-node-1`);
    // The first node's work moved with it: the database step, the static files pulled from it.
    assert.ok(run.ended.some((e) => e.name === `${APP}-publish` && e.ok));
    assert.equal(cluster.isRunning(old), false, "the old machine was not terminated");
    for (const n of stack.nodes) assert.equal(await stack.nodeRelease(n), "v1");
    assert.equal(await stack.nginxRelease(), "v1");
  });

  it("a node added (2 -> 3) gets traffic only after its switch, a node removed (3 -> 2) leaves every upstream and drains first; 0 failed requests", async () => {
    const added = cluster.spareNodes[1];
    stack.nodes = [...stack.nodes, added];
    let atSwitch: Promise<string[]> | undefined;
    const grow = await upUnderLoad(stack, "v1", (r, op) => {
      if (r.name === `${APP}-switch-node-3` && op === "create") atSwitch = upstream();
    });
    assert.ok(grow.result.ok, grow.result.error);
    assert.equal(grow.failed, 0, `failed requests: ${grow.failures.join(" | ")}`);
    assert.ok(atSwitch, "no switch ran on the added node");
    assert.ok(!(await atSwitch).includes(added.address), "the added node was in the upstream before its switch");
    assert.deepEqual(await upstream(), addresses(stack.nodes));
    assert.equal(await stack.nodeRelease(added), "v1");

    const removed = stack.nodes.pop()!;
    const shrink = await upUnderLoad(stack, "v1");
    assertOk(shrink);
    assertOrder(shrink, undefined, `${APP}-install-node-3`);
    assert.deepEqual(await upstream(), addresses(stack.nodes));
    assert.equal(cluster.isRunning(removed), false, "the removed machine was not terminated");
  });

  it("the next release runs on the new set of nodes under load (the new node-1 migrates and publishes); 0 failed requests", async () => {
    const run = await upUnderLoad(stack, "v2");
    assertOk(run);
    for (const n of stack.nodes) assert.equal(await stack.nodeRelease(n), "v2");
    assert.equal(await stack.nginxRelease(), "v2");
    assert.ok(!run.ended.some((e) => e.name === SITES_STEP), "a release of the same nodes changed the sites");
  });
});
