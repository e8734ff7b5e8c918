// `npm run status`: what really runs where, read over SSH, against the catalog and the stack's last
// deployment. Pure but for the reader's `run` (given by the caller: OpenSSH in cli/status.ts and
// the test bed): the inventory, the one read-only command per host kind, the parsing of its JSON
// and the drift rules are plain data in, plain data out, unit-tested without any host.
//
// Why read the machines at all: Pulumi's state says what the last `up` did, not what a node serves
// after a reboot, a failed unit or a change by hand (@pulumi/command cannot refresh remote state).
import type { AppForStack } from "../config/catalog";
import { appIdentity } from "../config/identity";
import { shellQuote } from "../render/shellCommand";
import { MAINTENANCE_MARKER, SERVER_NAMES_FILE } from "../render/nginx";
import { APPS_ROOT, NGINX_CONF_DIR } from "./layout";

/** The read-only reader sent on stdin to every host (node/status/fleet_status.py). */

export interface StatusApp {
  name: string;
  /** Its OS user on the nodes (config/identity.ts). */
  user: string;
  port: number;
  domain: string;
  healthCheck: string;
  /** The tag apps.yaml pins on this stack. */
  catalogTag: string;
  /** What the stack's last deployment recorded as serving (the `serving` output); commit "" when unknown. */
  deployed?: { tag: string; commit: string };
}

export interface StatusHost {
  name: string;
  /** Its private address (a node's: where gunicorn listens and what nginx's upstreams list). */
  address: string;
  /** The connection the deployment's steps use on it (host, user, key, proxy), as recorded. */
  connection: unknown;
}

export interface Inventory {
  stack: string;
  apps: StatusApp[];
  nodes: StatusHost[];
  edges: StatusHost[];
}

/** A deployment as a Pulumi state export or the offline plan records it: resources with their
 *  inputs, and the stack's outputs. */
export interface Deployment {
  resources: { name?: string; urn?: string; type: string; inputs?: Record<string, unknown> }[];
  outputs: Record<string, unknown>;
}

export class StatusError extends Error {}

const nameOf = (r: Deployment["resources"][number]) => r.name ?? (r.urn ?? "").split("::").pop() ?? "";

/**
 * The hosts and apps to read: the hosts from the deployment's outputs (`infrastructure`'s
 * nodeAddresses and edgeHosts), each with the connection its `<host>-scripts-copy` step used
 * (every host has one: app/hostScripts.ts); the apps from the catalog, with what the deployment
 * recorded as serving (`serving`).
 */
export function inventoryOf(stack: string, deployment: Deployment, apps: AppForStack[]): Inventory {
  const infra = deployment.outputs.infrastructure as
    { nodeAddresses?: Record<string, string>; edgeHosts?: Record<string, string> } | undefined;
  if (!infra?.nodeAddresses || !infra.edgeHosts)
    throw new StatusError(
      `stack ${stack}: its last deployment has no infrastructure output (nodeAddresses, edgeHosts): was it ever deployed?`,
    );
  const connections = new Map(
    deployment.resources
      .filter((r) => nameOf(r).endsWith("-scripts-copy"))
      .map((r) => [nameOf(r).slice(0, -"-scripts-copy".length), r.inputs?.connection]),
  );
  const host = ([name, address]: [string, string]): StatusHost => {
    const connection = connections.get(name);
    if (connection === undefined)
      throw new StatusError(`stack ${stack}: no connection recorded for ${name} (its ${name}-scripts-copy step is not in the deployment)`);
    return { name, address, connection };
  };
  const serving = (deployment.outputs.serving ?? {}) as Record<string, { tag: string; commit: string }>;
  return {
    stack,
    nodes: Object.entries(infra.nodeAddresses).map(host),
    edges: Object.entries(infra.edgeHosts).map(host),
    apps: apps.map((a) => ({
      name: a.name,
      user: appIdentity(a.name).osUser,
      port: a.port,
      domain: a.domain,
      healthCheck: a.healthCheck,
      catalogTag: a.tag,
      ...(serving[a.name] ? { deployed: serving[a.name] } : {}),
    })),
  };
}

/** The command that reads a node: every app's release, gunicorn and health, as the deploy user
 *  itself, no sudo (its only sudo on an app node is the node helper, docs/infrastructure.md): the
 *  deploy user owns each app's home, `current` and the sealed releases, gunicorn's pidfile is
 *  world-readable and systemd answers is-active to anyone. The script comes on stdin. */
export function nodeStatusCommand(node: StatusHost, apps: StatusApp[]): string {
  const specs = apps.map((a) => [a.user, node.address, String(a.port), a.domain, a.healthCheck].join(","));
  return ["python3", "-", "node", APPS_ROOT, ...specs].map(shellQuote).join(" ");
}

/** The command that reads an nginx host: each site's upstream and whether it is in maintenance
 *  (world-readable, no sudo). The server-names file is the platform's, no app's site. */
export function edgeStatusCommand(confDir = NGINX_CONF_DIR): string {
  return ["python3", "-", "edge", confDir, MAINTENANCE_MARKER, SERVER_NAMES_FILE].map(shellQuote).join(" ");
}

export interface NodeApp {
  tag: string | null;
  commit: string | null;
  previous: string | null;
  /** "running", "stopped", "absent" (no home), or systemd's word (failed, activating, ...). */
  processes: string;
  /** "ok", "HTTP <status>", "absent" or the connection error. */
  health: string;
  /** A switch was cut between its new link and its rename (switch.sh's .current.new is there). */
  pendingSwitch: boolean;
}

export interface EdgeSite {
  upstream: string[];
  weights: Record<string, number>;
  maintenance: boolean;
}

export type HostReading<T> = { ok: true; value: T } | { ok: false; error: string };

export interface FleetReading {
  nodes: Record<string, HostReading<Record<string, NodeApp>>>;
  edges: Record<string, HostReading<Record<string, EdgeSite>>>;
}

/** Runs `command` on `host` with `stdin`; resolves with its exit code and output. */
export type HostRunner = (host: StatusHost, command: string, stdin: string) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Reads every node and nginx host at once (read-only). A host that cannot be read is a reading
 *  with its error, never a thrown one: the others still report. `script`: node/status/fleet_status.py
 *  (node/scripts.ts statusScript), sent on stdin. */
export async function readFleet(inv: Inventory, run: HostRunner, script: string): Promise<FleetReading> {
  const read = async <T>(host: StatusHost, command: string, pick: (json: Record<string, unknown>) => T): Promise<HostReading<T>> => {
    try {
      const r = await run(host, command, script);
      if (r.code !== 0) return { ok: false, error: lastLine(r.stderr) ?? `exit ${r.code}` };
      return { ok: true, value: pick(JSON.parse(r.stdout.trim().split("\n").pop() ?? "") as Record<string, unknown>) };
    } catch (err) {
      return { ok: false, error: lastLine((err as Error).message) ?? String(err) };
    }
  };
  const [nodes, edges] = await Promise.all([
    Promise.all(inv.nodes.map((n) => read(n, nodeStatusCommand(n, inv.apps), (j) => j.apps as Record<string, NodeApp>))),
    Promise.all(inv.edges.map((e) => read(e, edgeStatusCommand(), (j) => j.sites as Record<string, EdgeSite>))),
  ]);
  return {
    nodes: Object.fromEntries(inv.nodes.map((n, i) => [n.name, nodes[i]])),
    edges: Object.fromEntries(inv.edges.map((e, i) => [e.name, edges[i]])),
  };
}

function lastLine(text: string): string | undefined {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
}

/** Per node, the release an app serves there (`serving` of `npm run rehearse -- --json`). */
export function servingOf(
  inv: Inventory,
  reading: FleetReading,
  app: string,
): Record<string, { tag: string | null; commit: string | null }> {
  const user = inv.apps.find((a) => a.name === app)?.user ?? appIdentity(app).osUser;
  const out: Record<string, { tag: string | null; commit: string | null }> = {};
  for (const node of inv.nodes) {
    const r = reading.nodes[node.name];
    const a = r?.ok ? r.value[user] : undefined;
    out[node.name] = { tag: a?.tag ?? null, commit: a?.commit ?? null };
  }
  return out;
}

/** The JSON of `npm run status -- --json`. */
export interface StatusReport {
  stack: string;
  apps: {
    app: string;
    /** What apps.yaml pins, and what the last deployment recorded as serving. */
    catalogTag: string;
    deployedTag: string | null;
    nodes: Record<string, NodeApp | { error: string }>;
    /** Per nginx host: the nodes the app's upstream lists (by name; an address no node has, as is). */
    edges: Record<string, { upstream: string[]; maintenance: boolean } | { error: string }>;
  }[];
  /** One line per drift; empty when what runs is what was deployed. */
  drift: string[];
  /** Not drift: apps.yaml pins another tag than the one deployed (a release not yet run). */
  pending: string[];
}

/** What runs against what should: the report and its drift lines (the rules in one place). */
export function statusReport(inv: Inventory, reading: FleetReading): StatusReport {
  const drift: string[] = [];
  const pending: string[] = [];
  for (const [name, r] of [...Object.entries(reading.nodes), ...Object.entries(reading.edges)]) {
    if (!r.ok) drift.push(`${name}: could not be read: ${r.error}`);
  }
  const nodeByAddress = new Map(inv.nodes.map((n) => [n.address, n.name]));
  const apps = inv.apps.map((app) => {
    const expected = app.deployed?.tag ?? app.catalogTag;
    if (app.deployed && app.deployed.tag !== app.catalogTag)
      pending.push(`${app.name}: apps.yaml pins ${app.catalogTag}, the last deployment serves ${app.deployed.tag}`);
    const nodes: StatusReport["apps"][number]["nodes"] = {};
    const tags = new Map<string, string[]>();
    for (const node of inv.nodes) {
      const r = reading.nodes[node.name];
      if (!r?.ok) {
        nodes[node.name] = { error: r?.error ?? "not read" };
        continue;
      }
      const a = r.value[app.user];
      if (!a) {
        nodes[node.name] = { error: "not in the reading" };
        continue;
      }
      nodes[node.name] = a;
      drift.push(...nodeDrift(app, node.name, a, expected));
      const tag = a.tag ?? "nothing";
      tags.set(tag, [...(tags.get(tag) ?? []), node.name]);
    }
    if (tags.size > 1) {
      drift.push(
        `${app.name}: half-switched: ${[...tags].map(([tag, ns]) => `${ns.join(", ")} ${ns.length > 1 ? "serve" : "serves"} ${tag}`).join("; ")}`,
      );
    }
    const edges: StatusReport["apps"][number]["edges"] = {};
    for (const edge of inv.edges) {
      const r = reading.edges[edge.name];
      if (!r?.ok) {
        edges[edge.name] = { error: r?.error ?? "not read" };
        continue;
      }
      const site = r.value[app.name];
      const listed = (site?.upstream ?? []).map((hostPort) => {
        const [address, port] = hostPort.split(":");
        return Number(port) === app.port ? (nodeByAddress.get(address) ?? hostPort) : hostPort;
      });
      edges[edge.name] = { upstream: listed, maintenance: site?.maintenance ?? false };
      drift.push(...edgeDrift(app, edge.name, listed, site !== undefined, inv, reading));
    }
    return { app: app.name, catalogTag: app.catalogTag, deployedTag: app.deployed?.tag ?? null, nodes, edges };
  });
  for (const [edge, r] of Object.entries(reading.edges)) {
    if (!r.ok) continue;
    for (const site of Object.keys(r.value)) {
      if (!inv.apps.some((a) => a.name === site)) drift.push(`${edge}: serves a site for ${site}, which is no app of stack ${inv.stack}`);
    }
  }
  return { stack: inv.stack, apps, drift, pending };
}

/** One app on one node against the deployed release. */
function nodeDrift(app: StatusApp, node: string, a: NodeApp, expected: string): string[] {
  const where = `${app.name} on ${node}`;
  if (a.processes === "absent") return [`${where}: not installed (the last deployment has ${expected})`];
  const lines: string[] = [];
  if (a.tag === null) lines.push(`${where}: no release is current (the last deployment has ${expected})`);
  else if (a.tag !== expected) lines.push(`${where}: serves ${a.tag} (${short(a.commit)}), the last deployment has ${expected}`);
  else if (app.deployed?.commit && a.commit !== app.deployed.commit)
    lines.push(
      `${where}: serves ${a.tag} at commit ${short(a.commit)}, the last deployment had ${short(app.deployed.commit)} (the tag was moved)`,
    );
  if (a.pendingSwitch) lines.push(`${where}: a switch was cut short (.current.new is left): rerun the update`);
  if (a.processes !== "running") lines.push(`${where}: gunicorn is ${a.processes}`);
  else if (a.health !== "ok") lines.push(`${where}: health check ${app.healthCheck} answers ${a.health}`);
  return lines;
}

/** One app's upstream on one nginx host against the nodes that serve it. */
function edgeDrift(app: StatusApp, edge: string, listed: string[], hasSite: boolean, inv: Inventory, reading: FleetReading): string[] {
  const where = `${app.name} on ${edge}`;
  const serving = inv.nodes
    .filter((n) => {
      const r = reading.nodes[n.name];
      return r?.ok && r.value[app.user]?.tag != null;
    })
    .map((n) => n.name);
  if (!hasSite)
    return serving.length > 0 ? [`${where}: no site, though ${serving.join(", ")} ${serving.length > 1 ? "serve" : "serves"} it`] : [];
  const lines = serving.filter((n) => !listed.includes(n)).map((n) => `${where}: ${n} is missing from the upstream`);
  for (const entry of listed) {
    if (!inv.nodes.some((n) => n.name === entry)) lines.push(`${where}: the upstream lists ${entry}, which is no node of the stack`);
  }
  return lines;
}

function short(commit: string | null): string {
  return commit ? commit.slice(0, 12) : "no commit";
}

/** The text of `npm run status` without --json: per app and node one line, then the drift. */
export function renderStatus(report: StatusReport): string {
  const lines = [`stack ${report.stack}`];
  for (const app of report.apps) {
    lines.push(`${app.app}: deployed ${app.deployedTag ?? "(not recorded)"}, apps.yaml ${app.catalogTag}`);
    for (const [node, a] of Object.entries(app.nodes)) {
      lines.push(
        "error" in a
          ? `  ${node}: unread (${a.error})`
          : `  ${node}: ${a.tag ?? "no release"} ${short(a.commit)}, gunicorn ${a.processes}, health ${a.health}`,
      );
    }
    for (const [edge, e] of Object.entries(app.edges)) {
      lines.push(
        "error" in e
          ? `  ${edge}: unread (${e.error})`
          : `  ${edge}: upstream ${e.upstream.join(", ") || "(no site)"}${e.maintenance ? ", maintenance page" : ""}`,
      );
    }
  }
  for (const p of report.pending) lines.push(`pending: ${p}`);
  lines.push(...(report.drift.length > 0 ? report.drift.map((d) => `drift: ${d}`) : ["no drift"]));
  return lines.join("\n");
}
