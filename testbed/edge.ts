/**
 * The edge on the test bed: two or more nginx hosts behind the balancer (testbed/balancer.ts),
 * and what the e2e test and `npm run bench -- edge` do with it: lose one nginx host under load.
 */
import type { Balancer } from "./balancer";
import type { NodeHandle } from "./cluster";
import { DOMAIN, Load, LocalStack } from "./localStack";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** Clients of the load through the balancer while a host is lost (each one request at a time). */
export const EDGE_LOAD_CLIENTS = 4;

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
export async function loseEdgeHostUnderLoad(
  stack: LocalStack,
  lost: NodeHandle,
  opts: { beforeMs: number; afterMs: number },
): Promise<EdgeLoss> {
  const balancer = await waitForBalancer(stack);
  const load = new Load(`http://${balancer.address}/`, DOMAIN, EDGE_LOAD_CLIENTS, 600);
  await sleep(opts.beforeMs);
  const answeredBefore = load.requests - load.failed;
  await stack.cluster.kill(lost);
  await sleep(opts.afterMs);
  const states = await balancer.states();
  const counts = await load.stop();
  return { ...counts, answeredAfterLoss: counts.requests - counts.failed - answeredBefore, states };
}
