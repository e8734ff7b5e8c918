/**
 * The edge on the test bed: two or more nginx hosts behind the balancer (testbed/balancer.ts),
 * and what the e2e test and `npm run bench -- edge` do with it: lose one nginx host under load.
 */
import type { Balancer } from "./balancer";
import type { NodeHandle } from "./cluster";
import { REMOTE_COMMAND } from "./executor";
import { DOMAIN, Load, LocalStack } from "./localStack";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * While the plan publishes an app's static files from an nginx host (its `<app>-publish` step
 * runs there and pulls from node 1), it declares that step on host 1 only: this runs the applied
 * steps on every other nginx host too. A publish step that runs elsewhere (on a node, pushing to
 * every nginx host) needs nothing: then this runs nothing. Returns the hosts it published on.
 */
export async function publishOnEveryEdgeHost(stack: LocalStack): Promise<string[]> {
  const hosts = stack.cluster.staticHosts;
  const hostOf = (r: { inputs: Record<string, unknown> }) => (r.inputs.connection as { host?: string }).host;
  const publishes = stack.state.resources.filter((r) => r.type === REMOTE_COMMAND && /-publish$/.test(r.name) && hosts.some((h) => h.address === hostOf(r)));
  const done: string[] = [];
  for (const host of hosts.filter((h) => publishes.length > 0 && !publishes.some((p) => hostOf(p) === h.address))) {
    const r = await stack.runOn(host, publishes.map((p) => p.name));
    if (!r.ok) throw new Error(`publishing on ${host.name} failed: ${r.error}`);
    done.push(host.name);
  }
  return done;
}

/** Until every nginx host is up for the balancer's health checks. */
export async function waitForBalancer(stack: LocalStack, timeoutMs = 30_000): Promise<Balancer> {
  const balancer = stack.cluster.balancer;
  if (!balancer) throw new Error("the cluster has no balancer: start it with staticHostCount 2 or more");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await balancer.states();
    if (Object.values(states).every((s) => s === "UP")) return balancer;
    if (Date.now() > deadline) throw new Error(`the balancer's checks never passed: ${JSON.stringify(states)}`);
    await sleep(200);
  }
}

/** The e2e test's and the bench's load around the loss: 10 s before, 50 s after. */
export const EDGE_LOSS_WINDOW = { beforeMs: 10_000, afterMs: 50_000 };

export interface EdgeLoss {
  requests: number;
  failed: number;
  failures: string[];
  /** Requests answered after the host was lost. */
  answeredAfterLoss: number;
  /** The balancer's view of every nginx host at the end. */
  states: Record<string, string>;
}

/**
 * Continuous GET requests to the app's page through the balancer; after `beforeMs`, `lost` is
 * killed (the machine at once: nginx, sshd, its network); the load goes on for `afterMs`.
 */
export async function loseEdgeHostUnderLoad(stack: LocalStack, lost: NodeHandle, opts: { beforeMs: number; afterMs: number }): Promise<EdgeLoss> {
  const balancer = await waitForBalancer(stack);
  const load = new Load(`http://${balancer.address}/`, DOMAIN, 4, 600);
  await sleep(opts.beforeMs);
  const answeredBefore = load.requests - load.failed;
  await stack.cluster.kill(lost);
  await sleep(opts.afterMs);
  const states = await balancer.states();
  const counts = await load.stop();
  return { ...counts, answeredAfterLoss: counts.requests - counts.failed - answeredBefore, states };
}
