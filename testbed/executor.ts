/**
 * Runs, for real and over SSH, the remote commands and copies an offline plan declares,
 * following @pulumi/command's lifecycle between the state (what was applied last) and the
 * desired plan: only what changed runs; a new resource runs `create`; a changed one runs
 * `update`, else `create` again; a change of `triggers` replaces it as the engine does by
 * default (create before delete): the new one's `create` runs among the creates, the old one's
 * `delete` with the deletes; a removed one runs `delete`. The deletes come last, once every
 * create and update succeeded, dependents first. Dependencies (the program's own, from the plan)
 * order everything; independent resources run in parallel; a failure stops its dependents,
 * and a failed resource keeps its old state, so the next run tries it again. Nothing is
 * copied by hand: the commands and their stdin are the plan's. Not modelled: `deletedWith` (a
 * delete command on a machine that goes in the same run runs there first; the engine skips it)
 * and the engine's pending deletes (a replacement whose run failed forgets the old one).
 *
 * Connections are the plan's: host, port, user, proxy and private key, and its dialErrorLimit:
 * a connection sshd refuses or drops before authentication (MaxStartups under load) is dialled
 * again as the provider dials (testbed/sshClient.ts runSsh); a command that ran never runs twice.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { diffPlans, Plan, PlanChange, PlanResource } from "../offline/plan";
import { runSsh } from "./sshClient";

export const REMOTE_COMMAND = "command:remote:Command";
export const REMOTE_COPY = "command:remote:CopyToRemote";

export interface ExecutorOptions {
  /** Where the connections' private keys are written for ssh (a private directory). */
  keyDir: string;
  /** Called when a resource starts; may return a function that interrupts it (tests). */
  onStart?(r: PlanResource, op: Operation, interrupt: () => void): void;
  /** Called when a resource's command has ended, ok or not (rehearse starts its load when the sites are published). */
  onDone?(ran: Ran): void;
  log?(line: string): void;
}

export type Operation = "create" | "update" | "delete";

export interface Ran {
  name: string;
  urn: string;
  op: Operation;
  command: string;
  ok: boolean;
  stdout: string;
  stderr: string;
  ms: number;
  /** Dials sshd refused or dropped before authentication (retried as the provider does; all of them when none got through). */
  failedDials: number;
}

export interface ApplyResult {
  /** The state after this run: what the next run compares against. */
  state: Plan;
  ran: Ran[];
  /** Resources that did not run because something they depend on failed. */
  skipped: string[];
  ok: boolean;
  /** The first failure's stderr tail: what `pulumi up` would show. */
  error?: string;
}

export const EMPTY_STATE: Plan = { stack: "", resources: [], outputs: {} };

const isRemote = (r: PlanResource) => r.type === REMOTE_COMMAND || r.type === REMOTE_COPY;

/** Applies `desired` over `state`, running what changed; resolves when everything that could run has. */
export async function apply(state: Plan, desired: Plan, opts: ExecutorOptions): Promise<ApplyResult> {
  const changes = diffPlans(state, desired);
  const before = new Map(state.resources.map((r) => [r.urn, r]));
  const after = new Map(desired.resources.map((r) => [r.urn, r]));
  const next = new Map(before);
  const ran: Ran[] = [];
  const failed = new Set<string>();
  const skipped: string[] = [];

  // Creates and updates, in dependency order of the desired plan.
  const pending = new Map<string, PlanChange>(changes.filter((c) => c.op !== "delete").map((c) => [c.urn, c]));
  const deps = dependencyMap(desired);
  const done = new Set<string>(desired.resources.map((r) => r.urn).filter((u) => !pending.has(u)));
  const running = new Map<string, Promise<void>>();
  /** The old resources of replacements made: deleted with the deletes. */
  const replaced: PlanResource[] = [];
  const runOne = async (change: PlanChange) => {
    const r = after.get(change.urn)!;
    const old = before.get(change.urn);
    const replacing = change.op === "update" && change.keys.includes("triggers") && old !== undefined;
    let ok = true;
    if (isRemote(r)) {
      ok = await runStep(r, change.op === "update" && !replacing && r.inputs.update !== undefined ? "update" : "create", opts, ran);
    }
    if (ok && replacing) replaced.push(old);
    if (ok) next.set(r.urn, r);
    else failed.add(r.urn);
  };
  while (pending.size > 0 || running.size > 0) {
    for (const [urn, change] of [...pending]) {
      const needs = deps.get(urn) ?? [];
      if (needs.some((d) => failed.has(d) || skipped.includes(d))) {
        pending.delete(urn);
        skipped.push(urn);
        continue;
      }
      if (needs.every((d) => done.has(d))) {
        pending.delete(urn);
        running.set(
          urn,
          runOne(change).then(() => {
            running.delete(urn);
            done.add(urn);
          }),
        );
      }
    }
    if (running.size === 0 && pending.size > 0) {
      // Waiting on something that will never finish (a dependency outside the plan): skip.
      for (const urn of pending.keys()) skipped.push(urn);
      pending.clear();
    }
    if (running.size > 0) await Promise.race(running.values());
  }

  // Deletes last, dependents first, and only when everything else succeeded (as Pulumi does).
  if (failed.size === 0) {
    const removed = changes.filter((c) => c.op === "delete").map((c) => before.get(c.urn)!);
    for (const r of deleteOrder([...removed, ...replaced], state)) {
      if (isRemote(r) && !(await runStep(r, "delete", opts, ran))) {
        failed.add(r.urn);
        break;
      }
      if (!after.has(r.urn)) next.delete(r.urn);
    }
  }

  const stateNext: Plan = {
    stack: desired.stack,
    outputs: desired.outputs,
    resources: [...next.values()].sort((a, b) => (a.urn < b.urn ? -1 : 1)),
  };
  const firstFailure = ran.find((x) => !x.ok);
  return {
    state: stateNext,
    ran,
    skipped: skipped.map((u) => nameOf(u)),
    ok: failed.size === 0 && skipped.length === 0,
    error: firstFailure ? `${firstFailure.name}: ${firstFailure.stderr.trim().split("\n").slice(-3).join("\n")}` : undefined,
  };
}

/** urn -> the urns it waits for: explicit and implied dependencies, and its parent's. */
function dependencyMap(plan: Plan): Map<string, string[]> {
  const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
  const children = new Map<string, string[]>();
  for (const r of plan.resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
  // Waiting for a component means waiting for everything inside it.
  const expand = (urn: string, seen = new Set<string>()): string[] => {
    if (seen.has(urn)) return [];
    seen.add(urn);
    const kids = children.get(urn) ?? [];
    return [urn, ...kids.flatMap((k) => expand(k, seen))];
  };
  const map = new Map<string, string[]>();
  for (const r of plan.resources) {
    map.set(
      r.urn,
      [...new Set(r.dependsOn.filter((d) => byUrn.has(d)).flatMap((d) => expand(d)))].filter((d) => d !== r.urn),
    );
  }
  return map;
}

/** Deletes in reverse dependency order of the state they were applied in. */
function deleteOrder(deletes: PlanResource[], state: Plan): PlanResource[] {
  const deps = dependencyMap(state);
  const left = new Map(deletes.map((d) => [d.urn, d]));
  const order: PlanResource[] = [];
  while (left.size > 0) {
    const ready = [...left.keys()].filter((u) => ![...left.keys()].some((o) => o !== u && (deps.get(o) ?? []).includes(u)));
    const pick = ready.length > 0 ? ready : [...left.keys()];
    for (const u of pick) {
      order.push(left.get(u)!);
      left.delete(u);
    }
  }
  return order;
}

function nameOf(urn: string): string {
  return urn.split("::").pop() ?? urn;
}

interface Connection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  dialErrorLimit?: number;
  proxy?: { host: string; port?: number; user?: string; privateKey?: string };
}

/** A private key as a file for ssh -i (one file per distinct key, mode 0600). */
function keyFile(key: string | undefined, dir: string): string {
  if (!key) throw new Error("a connection without a private key");
  const file = path.join(dir, `key-${createHash("sha256").update(key).digest("hex").slice(0, 12)}`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
  return file;
}

function sshArgs(c: Connection, keyDir: string): string[] {
  // No LogLevel: runSsh sets the client's (its log decides retries); the jump host's ssh says errors only.
  const common = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
  const args = [...common, "-i", keyFile(c.privateKey, keyDir), "-p", String(c.port ?? 22)];
  if (c.proxy) {
    const jump = [
      "ssh",
      ...common,
      "-o",
      "LogLevel=ERROR",
      "-i",
      keyFile(c.proxy.privateKey ?? c.privateKey, keyDir),
      "-p",
      String(c.proxy.port ?? 22),
      "-W",
      "%h:%p",
      `${c.proxy.user ?? "root"}@${c.proxy.host}`,
    ].join(" ");
    args.push("-o", `ProxyCommand=${jump}`);
  }
  // @pulumi/command's default user is root; the program must set it.
  args.push(`${c.user ?? "root"}@${c.host}`);
  return args;
}

/** Runs one operation of one resource; records it in `ran`. */
async function runStep(r: PlanResource, op: Operation, opts: ExecutorOptions, ran: Ran[]): Promise<boolean> {
  const conn = r.inputs.connection as Connection;
  const started = Date.now();
  let command: string;
  let input: string | Buffer;
  if (r.type === REMOTE_COPY) {
    if (op === "delete") return true; // CopyToRemote leaves the files on delete.
    const source = (r.inputs.source as { path?: string }).path;
    if (!source) throw new Error(`${r.name}: only path-based sources can be copied`);
    const remote = String(r.inputs.remotePath);
    // Like CopyToRemote: a missing remotePath becomes the copy; an existing directory receives it.
    command = `if [ -d '${remote}' ]; then d='${remote}/${path.basename(source)}'; mkdir -p "$d"; else d='${remote}'; mkdir "$d"; fi; tar -x -C "$d"`;
    input = await capture("tar", ["-C", source, "-cf", "-", "."]);
  } else {
    const text = r.inputs[op];
    if (typeof text !== "string") return true; // No command for this operation: nothing runs.
    command = text;
    input = typeof r.inputs.stdin === "string" ? r.inputs.stdin : "";
  }
  opts.log?.(`${op} ${r.name}`);
  const result = await runSsh([...sshArgs(conn, opts.keyDir), command], input, {
    dialErrorLimit: conn.dialErrorLimit,
    onStart: (interrupt) => opts.onStart?.(r, op, interrupt),
    onRetry: (failed, limit, reason) => opts.log?.(`${r.name}: Dial ${failed}/${limit} failed: retrying (${reason})`),
  });
  const entry: Ran = {
    name: r.name,
    urn: r.urn,
    op,
    command,
    ok: result.code === 0,
    stdout: result.stdout,
    stderr: result.stderr,
    ms: Date.now() - started,
    failedDials: result.dialFailures,
  };
  ran.push(entry);
  opts.onDone?.(entry);
  opts.log?.(
    `${entry.ok ? "ok" : "FAILED"} ${op} ${r.name} (${entry.ms} ms)${entry.ok ? "" : `: ${result.stderr.trim().split("\n").slice(-2).join(" | ")}`}`,
  );
  return entry.ok;
}

/** Runs one command over a recorded connection (a step's `connection` input), as the steps run:
 *  what `npm run status` reads the hosts with. The key goes to a 0600 file in keyDir, never a command line. */
export async function runOverConnection(
  connection: unknown,
  command: string,
  stdin: string,
  keyDir: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const conn = connection as Connection;
  const r = await runSsh([...sshArgs(conn, keyDir), command], stdin, { dialErrorLimit: conn.dialErrorLimit });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

function capture(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    const chunks: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => chunks.push(d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${cmd} exited ${code}`))));
  });
}
