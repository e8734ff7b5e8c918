// `npm run logs` (cli/logs.ts), the pure part: the command each node runs (the node helper's
// `logs`: the app's gunicorn, its processes and its schedules' runs), the ssh arguments that reach a node (through the bastion, the nginx host
// 1, when the stack has one), the nodes from the stack's outputs, and one journal entry as a
// line prefixed by its node and process.
import { appIdentity } from "../config/identity";
import { NAME_PATTERN } from "../config/catalog";
import { PROCESS_NAME_PATTERN } from "../config/processes";
import { NODE_HELPER } from "../rollout/layout";
import { shellQuote } from "./shellCommand";

/** The process name of the app's gunicorn, in `--process` and in the lines. */
export const WEB = "web";

export interface LogsQuery {
  app: string;
  /** A span back from now: 30s, 15m, 1h, 2d (journalctl's --since -SPAN). */
  since?: string;
  /** `web`, or the name of one of the app's processes or schedules. */
  process?: string;
  follow: boolean;
}

export class LogsError extends Error {}

export const SINCE_PATTERN = /^[1-9][0-9]{0,5}(s|m|h|d)$/;

const SINCE_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * The command a node runs: the node helper's `logs` (node/provision/fleet-node.py), the app's
 * journal as JSON lines: the deploy user reads no journal itself (its one sudo right is the
 * helper, which picks the app's units: gunicorn@, fleet-process-, fleet-schedule-).
 */
export function journalCommand(q: LogsQuery): string {
  checkQuery(q);
  const since = q.since ? Number(q.since.slice(0, -1)) * SINCE_SECONDS[q.since.slice(-1)] : 0;
  return ["sudo", "-n", NODE_HELPER, "logs", appIdentity(q.app).osUser, q.process ?? "-", String(since), q.follow ? "follow" : "once"]
    .map(shellQuote)
    .join(" ");
}

function checkQuery(q: LogsQuery): void {
  if (!NAME_PATTERN.test(q.app)) throw new LogsError(`app ${JSON.stringify(q.app)} is not an app name (${NAME_PATTERN.source})`);
  if (q.since !== undefined && !SINCE_PATTERN.test(q.since))
    throw new LogsError(`--since ${JSON.stringify(q.since)} is not allowed: a number and s, m, h or d, such as 1h`);
  if (q.process !== undefined && q.process !== WEB && !PROCESS_NAME_PATTERN.test(q.process)) {
    throw new LogsError(`--process ${JSON.stringify(q.process)} is not allowed: web, or a process or schedule name of apps.yaml`);
  }
}

/** A node to read from, and how ssh reaches it. */
export interface LogsTarget {
  node: string;
  address: string;
}

export interface SshSettings {
  user: string;
  /** The bastion (the nginx host 1's public address); absent: the nodes directly. */
  bastion?: string;
  identity?: string;
  knownHosts?: string;
}

/** ssh's arguments for one node's journal command: batch mode (no prompt), a known-hosts check. */
export function sshArgs(target: LogsTarget, ssh: SshSettings, remote: string): string[] {
  return [
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "StrictHostKeyChecking=accept-new",
    ...(ssh.knownHosts ? ["-o", `UserKnownHostsFile=${ssh.knownHosts}`] : []),
    ...(ssh.identity ? ["-i", ssh.identity, "-o", "IdentitiesOnly=yes"] : []),
    ...(ssh.bastion ? ["-J", `${ssh.user}@${ssh.bastion}`] : []),
    `${ssh.user}@${target.address}`,
    remote,
  ];
}

/** The stack's outputs as `pulumi stack output --json` prints them: the parts logs reads. */
export interface StackOutputs {
  appReleases?: Record<string, unknown>;
  infrastructure?: { nodeAddresses?: Record<string, string>; staticHostIp?: string };
}

/** The app's nodes and the bastion, from the stack's outputs. */
export function logsTargets(outputs: StackOutputs, app: string, stack: string): { targets: LogsTarget[]; bastion?: string } {
  if (!outputs.appReleases || !(app in outputs.appReleases)) {
    throw new LogsError(
      `${app} does not run on stack ${stack} (its outputs' appReleases: ${Object.keys(outputs.appReleases ?? {}).join(", ") || "none"})`,
    );
  }
  const nodes = Object.entries(outputs.infrastructure?.nodeAddresses ?? {});
  if (nodes.length === 0) throw new LogsError(`stack ${stack} has no app nodes in its outputs (infrastructure.nodeAddresses)`);
  return { targets: nodes.map(([node, address]) => ({ node, address })), bastion: outputs.infrastructure?.staticHostIp };
}

/** The process a journal unit is of the app's, or undefined: web, a process, `schedule:NAME`. */
export function processOfUnit(app: string, unit: string): string | undefined {
  const user = appIdentity(app).osUser;
  if (unit === `gunicorn@${user}.service`) return WEB;
  const m = /^fleet-(process|schedule)-(.+):([a-z0-9-]+)\.(service|timer)$/.exec(unit);
  if (!m || m[2] !== user) return undefined;
  return m[1] === "process" ? m[3] : `schedule:${m[3]}`;
}

/**
 * One journal entry (a line of `journalctl -o json`) as "NODE PROCESS TIME MESSAGE", the time in
 * UTC to the millisecond; undefined for a line that is not an entry of the app. systemd's own
 * lines about a unit (started, stopped, its exit status and CPU time) carry the unit in UNIT.
 */
export function formatEntry(app: string, node: string, json: string): string | undefined {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const unit = [entry._SYSTEMD_UNIT, entry.UNIT]
    .map((u) => (typeof u === "string" ? processOfUnit(app, u) : undefined))
    .find((p) => p !== undefined);
  if (unit === undefined) return undefined;
  const message =
    typeof entry.MESSAGE === "string"
      ? entry.MESSAGE
      : Array.isArray(entry.MESSAGE)
        ? Buffer.from(entry.MESSAGE as number[]).toString("utf8")
        : "";
  const usec = Number(entry.__REALTIME_TIMESTAMP);
  const time = Number.isFinite(usec) ? new Date(Math.floor(usec / 1000)).toISOString() : "-";
  return `${node} ${unit} ${time} ${message}`;
}
