// The port gunicorn listens on for each app, on every app node: the one rule, pure (no I/O).
//
// An app that writes `port:` gets that port; the others get one derived from their name. The
// first candidate is the original rule (8100 + a hash of the name mod 800), so every catalog that
// planned before this rule keeps every port. 800 ports are few: 30 names collide with 43 %
// probability, so a taken first candidate is followed by candidates from a double-hashing probe
// over PROBE_SPAN ports starting at PROBE_MIN, a sequence fixed by the name alone:
//   - 10000 and up: below are the ports of daemons a host commonly runs (8080, 9090 Prometheus,
//     9100 node_exporter, 5432, 6379, 8100-8899 the first candidates themselves);
//   - at most 32750: Linux hands out 32768-60999 (net.ipv4.ip_local_port_range) as the source
//     ports of outgoing connections, and a listener there fails to bind (EADDRINUSE) whenever an
//     outgoing connection happens to hold its port when gunicorn (re)starts.
// The span is prime, so each name's probe sequence visits every port of the range once.
//
// Ports are given in catalog order: written ports first (they never move), then each other app
// takes its first candidate that no app before it (nor a written port) has. Adding an app at the
// end therefore moves no port; removing or inserting one can move a later app that had probed
// past the removed app's port, which portMoves finds against the base catalog (the plan refuses it).

/** The original derived range: an app's first candidate. */
export const DERIVED_MIN = 8100;
export const DERIVED_SPAN = 800;
/** The probe range of the further candidates: PROBE_MIN .. PROBE_MIN + PROBE_SPAN - 1 (10000-32750). */
export const PROBE_MIN = 10000;
export const PROBE_SPAN = 22751;

/** The ranges derived ports come from, inclusive: the security groups open them whole. */
export const APP_PORT_RANGES: readonly { from: number; to: number }[] = [
  { from: DERIVED_MIN, to: DERIVED_MIN + DERIVED_SPAN - 1 },
  { from: PROBE_MIN, to: PROBE_MIN + PROBE_SPAN - 1 },
];

/**
 * What the security groups must open for these app ports: both ranges of APP_PORT_RANGES, whole
 * (whether or not an app has a port there yet), and each port outside them (written by hand)
 * alone. Rules per range and not per app: a security group holds 60 rules by default, and an app
 * added or removed, or one whose first candidate was taken, changes no rule (no full `up`). Pure.
 */
export function appPortOpenings(ports: number[]): { ranges: readonly { from: number; to: number }[]; single: number[] } {
  const inRange = (p: number) => APP_PORT_RANGES.some((r) => p >= r.from && p <= r.to);
  return { ranges: APP_PORT_RANGES, single: [...new Set(ports)].filter((p) => !inRange(p)).sort((a, b) => a - b) };
}

/** FNV-1a over the UTF-8 bytes of `text`. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const ch of Buffer.from(text, "utf8")) hash = Math.imul(hash ^ ch, 0x01000193) >>> 0;
  return hash;
}

/** An app's first candidate: 8100 + hash(name) mod 800, as before probing existed. */
export function defaultPort(name: string): number {
  return DERIVED_MIN + (fnv1a(name) % DERIVED_SPAN);
}

/** The app's candidate number `k` (0: defaultPort; 1..PROBE_SPAN: every port of the probe range once). */
export function candidatePort(name: string, k: number): number {
  if (k === 0) return defaultPort(name);
  const start = fnv1a(`${name}#start`) % PROBE_SPAN;
  const step = 1 + (fnv1a(`${name}#step`) % (PROBE_SPAN - 1));
  return PROBE_MIN + ((start + (k - 1) * step) % PROBE_SPAN);
}

export interface PortRequest {
  name: string;
  /** `port:` as written in the app's entry. */
  port?: number;
}

/**
 * Each app's port, in the order of `apps` (catalog order). Written ports are taken as written
 * (two equal written ports are the catalog check's error, not this function's).
 */
export function allocatePorts(apps: PortRequest[]): number[] {
  const taken = new Set(apps.flatMap((a) => (a.port === undefined ? [] : [a.port])));
  return apps.map((a) => {
    if (a.port !== undefined) return a.port;
    // A catalog is at most 1 MiB, far fewer apps than the 23,551 candidates: one is always free.
    for (let k = 0; k <= PROBE_SPAN; k++) {
      const port = candidatePort(a.name, k);
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
    throw new Error(`no free port for ${a.name}: more apps than ports`);
  });
}

/** An app's port as a catalog gives it, and whether its entry writes it. */
export interface AppPort {
  name: string;
  port: number;
  written: boolean;
}

export interface PortMove {
  app: string;
  from: number;
  to: number;
  /** The base entry wrote its port (the new one dropped the line), else it was derived. */
  wasWritten: boolean;
}

/**
 * Apps of both catalogs whose port would change without their entry saying so: a derived port
 * that moved because an app before it was removed or inserted. A port written in the new entry is
 * a decision, not a move. `base` and `next` are the apps that serve (run on the stack).
 */
export function portMoves(base: AppPort[], next: AppPort[]): PortMove[] {
  const before = new Map(base.map((a) => [a.name, a]));
  return next.flatMap((a) => {
    const old = before.get(a.name);
    return old !== undefined && old.port !== a.port && !a.written
      ? [{ app: a.name, from: old.port, to: a.port, wasWritten: old.written }]
      : [];
  });
}
