/**
 * The test bed's stand-in for the AWS Network Load Balancer in front of the nginx hosts: a real
 * haproxy (Debian's) on the host side of the bridge, doing what the NLB does and nothing more:
 *  - TCP passthrough of 80 and 443 (TLS stays on nginx), no HTTP parsing;
 *  - health checks as components/infra/edge.ts configures the NLB's: a TCP connection to port 80, a host
 *    out after `unhealthyThreshold` failures and back after `healthyThreshold` successes; the
 *    interval is the NLB's divided by INTERVAL_SCALE, so a test run waits seconds, not minutes;
 *  - a connection stays with the host it was sent to: no retry on another host (no `option
 *    redispatch`; the NLB never moves a flow), so what a lost host costs is counted, not hidden;
 *  - a host the checks take out loses its connections at once (`shutdown-sessions`: the NLB's
 *    connection termination for unhealthy targets, components/infra/edge.ts).
 * Unlike the NLB, haproxy does not keep the client's address (nginx logs the bridge's).
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { EDGE_HEALTH_CHECK, EDGE_PORTS } from "../rollout/topology";

const HAPROXY = "/usr/sbin/haproxy";
/** The NLB checks every 10 s; the balancer every 10 s / INTERVAL_SCALE. */
export const INTERVAL_SCALE = 10;

export interface BalancerBackend {
  name: string;
  address: string;
}

export interface Balancer {
  /** Where clients connect: port 80 and 443 of this address. */
  address: string;
  /** Per backend name: what the balancer's health checks made of it ("UP", "DOWN", ...). */
  states(): Promise<Record<string, string>>;
  /** Per backend name: connections the balancer sent it so far (both ports). */
  connections(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/** haproxy's configuration for `backends` behind `listen`. Pure. */
export function renderHaproxyConfig(listen: string, backends: BalancerBackend[], socket: string): string {
  const check = `on-marked-down shutdown-sessions check port ${EDGE_HEALTH_CHECK.port} inter ${(EDGE_HEALTH_CHECK.interval * 1000) / INTERVAL_SCALE}ms fall ${EDGE_HEALTH_CHECK.unhealthyThreshold} rise ${EDGE_HEALTH_CHECK.healthyThreshold}`;
  const lines = [
    "global",
    `    stats socket ${socket} mode 600 level admin`,
    "    maxconn 4096",
    "defaults",
    "    mode tcp",
    // A connection to a lost host waits as a client's SYN would, then fails: never another host.
    "    timeout connect 5s",
    "    timeout client 60s",
    "    timeout server 60s",
    `    timeout check ${(EDGE_HEALTH_CHECK.interval * 1000) / INTERVAL_SCALE}ms`,
  ];
  for (const { name, port } of EDGE_PORTS) {
    lines.push(`frontend ${name}`, `    bind ${listen}:${port}`, `    default_backend ${name}`);
    lines.push(`backend ${name}`, "    balance roundrobin", `    default-server ${check}`);
    for (const b of backends) lines.push(`    server ${b.name} ${b.address}:${port}`);
  }
  return `${lines.join("\n")}\n`;
}

/** One command on haproxy's stats socket; resolves with its whole answer. */
function ask(socket: string, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = net.connect(socket);
    let answer = "";
    client.on("data", (d: Buffer) => (answer += d.toString()));
    client.on("end", () => resolve(answer));
    client.on("error", reject);
    client.end(`${question}\n`);
  });
}

/** `show stat` as rows of backend servers: proxy, server, status, total sessions. */
async function serverRows(socket: string): Promise<{ proxy: string; server: string; status: string; sessions: number }[]> {
  const [header, ...rows] = (await ask(socket, "show stat")).trim().split("\n");
  const columns = header.replace(/^# /, "").split(",");
  const at = (row: string[], name: string) => row[columns.indexOf(name)];
  return rows
    .map((r) => r.split(","))
    .filter((r) => !["FRONTEND", "BACKEND"].includes(at(r, "svname")))
    .map((r) => ({ proxy: at(r, "pxname"), server: at(r, "svname"), status: at(r, "status"), sessions: Number(at(r, "stot")) }));
}

/** Starts haproxy (in the foreground, dying with this process) and waits for its stats socket. */
export async function startBalancer(dir: string, listen: string, backends: BalancerBackend[]): Promise<Balancer> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = path.join(dir, "haproxy.sock");
  const config = path.join(dir, "haproxy.cfg");
  fs.writeFileSync(config, renderHaproxyConfig(listen, backends, socket));
  const log = fs.openSync(path.join(dir, "haproxy.log"), "a");
  const child: ChildProcess = spawn("setpriv", ["--pdeathsig", "KILL", "--", HAPROXY, "-db", "-f", config], {
    cwd: "/",
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`haproxy exited: ${fs.readFileSync(path.join(dir, "haproxy.log"), "utf8").trim()}`);
    if (
      await ask(socket, "show info").then(
        () => true,
        () => false,
      )
    )
      break;
    if (Date.now() > deadline) throw new Error("e2e cluster: haproxy's stats socket never answered");
    await new Promise((r) => setTimeout(r, 50));
  }
  const byServer = async <T>(pick: (rows: Awaited<ReturnType<typeof serverRows>>, server: string) => T): Promise<Record<string, T>> => {
    const rows = await serverRows(socket);
    return Object.fromEntries(
      backends.map((b) => [
        b.name,
        pick(
          rows.filter((r) => r.server === b.name),
          b.name,
        ),
      ]),
    );
  };
  return {
    address: listen,
    // A host is up for the balancer when every port's check says so.
    states: () =>
      byServer((rows) => (rows.every((r) => r.status === "UP") ? "UP" : (rows.map((r) => r.status).find((s) => s !== "UP") ?? "UNKNOWN"))),
    connections: () => byServer((rows) => rows.reduce((n, r) => n + r.sessions, 0)),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
