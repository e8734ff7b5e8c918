// The fleet's shape as names and numbers: what the components declare and what the test bed plays
// with local machines. Pure (no AWS): the test bed and the bench read it without loading a provider.

/** Names of the node instances, node-1 ... node-N: the switch order; the e2e tests map exactly these to local addresses. */
export function nodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `node-${i + 1}`);
}

export const STATIC_HOST_NAME = "static-host";

/** The nginx hosts' names: static-host (host 1 keeps the name it always had), static-host-2, ... */
export function edgeHostNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => (i === 0 ? STATIC_HOST_NAME : `${STATIC_HOST_NAME}-${i + 1}`));
}

/** What the balancer passes through, one listener and target group each. */
export const EDGE_PORTS = [
  { name: "http", port: 80 },
  { name: "https", port: 443 },
] as const;

/**
 * The NLB's checks of a host: a TCP connection to port 80, every 10 s; 2 failures take it out,
 * 2 successes put it (back) in. Port 80 for both target groups: nginx always listens there (the
 * default server), on 443 only once an app has a certificate, and the 443 group must not call
 * a healthy host dead on a stack without HTTPS apps.
 */
export const EDGE_HEALTH_CHECK = { protocol: "TCP", port: "80", interval: 10, healthyThreshold: 2, unhealthyThreshold: 2 } as const;

/** Seconds a leaving host keeps its open connections (the NLB's default, 300, outlasts any request here). */
export const EDGE_DEREGISTRATION_DELAY = 30;
