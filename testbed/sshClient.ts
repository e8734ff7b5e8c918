/**
 * Small clients for the e2e cluster: OpenSSH's command-line client (the executor's and the
 * tests'), retrying as @pulumi/command dials, and a plain HTTP GET with a chosen Host header.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { Cluster, ExecResult, NodeHandle } from "./cluster";

/**
 * @pulumi/command's dial retries (provider/pkg/provider/remote/connection.go, dialWithRetry):
 * a failed dial is tried again until `dialErrorLimit` dials have failed (default 10, -1 without
 * limit), waiting 100 ms, then 1.5 times longer each time, at most 5 s (the defaults of the
 * Pulumi SDK's retry.Until). Its dial is ssh.Dial, which ends once authenticated: a session,
 * hence a command, starts only after it, so no command is ever run twice by a retry.
 */
export const DEFAULT_DIAL_ERROR_LIMIT = 10;

/** The wait before retry `retry` (0 = the first retry), in ms. */
export function dialRetryDelayMs(retry: number): number {
  return Math.min(100 * 1.5 ** retry, 5000);
}

/** What sshd under load does to a connection before authentication (MaxStartups drops it,
 *  a full listen queue resets or refuses it), as OpenSSH's client reports it. */
const REFUSED_BEFORE_AUTH = /kex_exchange_identification|Connection (refused|reset|closed)/;
/** OpenSSH's client log at VERBOSE: authentication succeeded, so a session may have started. */
const AUTHENTICATED = /^Authenticated to /;
/** Lines of that log that say nothing about a failure. */
const LOG_CHATTER = /^(Authenticated to |Warning: Permanently added |Transferred: |Bytes per second: )/;

export interface SshOptions {
  /** From the connection: failed dials allowed (-1: no limit); default 10, as @pulumi/command's. */
  dialErrorLimit?: number;
  /** Called before each retry, with the failed dial's number, the limit ("inf" for -1) and ssh's line. */
  onRetry?(failedDials: number, limit: string, reason: string): void;
  /** Called once, with a function that kills the run (the current attempt; no retry follows). */
  onStart?(interrupt: () => void): void;
}

export interface SshResult extends ExecResult {
  /** Dials that failed before the one that ran (or the last one). */
  dialFailures: number;
}

let logDir: string | undefined;
let logSeq = 0;
/** A fresh file for one ssh client log (ssh -E appends). */
function sshLogFile(): string {
  logDir ??= fs.mkdtempSync(path.join(os.tmpdir(), "fleet-ssh-log-"));
  return path.join(logDir, `${process.pid}-${++logSeq}.log`);
}
process.on("exit", () => {
  if (logDir) fs.rmSync(logDir, { recursive: true, force: true });
});

/**
 * `ssh ARGS...` (options, destination, command; no LogLevel: this sets it), `input` on stdin,
 * retried while sshd refuses or drops the connection before authentication, as the provider
 * does. ssh's own messages go to a log of their own (-E), so a retry is decided on what the
 * client did (not authenticated, exit 255) and not on what a command printed; a run that
 * authenticated is never repeated. When ssh itself fails, its messages end the stderr.
 */
export async function runSsh(args: string[], input: string | Buffer, opts: SshOptions = {}): Promise<SshResult> {
  const limit = opts.dialErrorLimit ?? DEFAULT_DIAL_ERROR_LIMIT;
  let child: ChildProcess | undefined;
  let interrupted = false;
  opts.onStart?.(() => {
    interrupted = true;
    child?.kill("SIGKILL");
  });
  for (let failed = 0; ;) {
    const log = sshLogFile();
    child = spawn("ssh", ["-o", "LogLevel=VERBOSE", "-E", log, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    const result = await collect(child, input);
    const sshLog = fs.existsSync(log)
      ? fs
          .readFileSync(log, "utf8")
          .split(/\r?\n/)
          .filter((l) => l !== "")
      : [];
    fs.rmSync(log, { force: true });
    const reason =
      result.code === 255 && !sshLog.some((l) => AUTHENTICATED.test(l)) ? sshLog.find((l) => REFUSED_BEFORE_AUTH.test(l)) : undefined;
    failed += reason ? 1 : 0;
    if (!reason || interrupted || (limit > -1 && failed > limit)) {
      const own = result.code === 255 ? sshLog.filter((l) => !LOG_CHATTER.test(l)) : [];
      return { ...result, stderr: own.length > 0 ? `${result.stderr}${own.join("\n")}\n` : result.stderr, dialFailures: failed };
    }
    opts.onRetry?.(failed, limit === -1 ? "inf" : String(limit), reason);
    await new Promise((r) => setTimeout(r, dialRetryDelayMs(failed - 1)));
  }
}

function collect(child: ChildProcess, input: string | Buffer): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 255, stdout, stderr }));
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(input);
  });
}

/** Runs `command` on `node` over SSH as cluster.sshUser; `input` goes to its stdin. Retried as
 *  the executor's steps are (a test's check may meet a node as loaded as a rollout leaves it). */
export async function sshRun(cluster: Cluster, node: NodeHandle, command: string, input = ""): Promise<ExecResult> {
  const args = [
    "-i",
    cluster.privateKeyPath,
    "-p",
    String(cluster.sshPort),
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    `${cluster.sshUser}@${node.address}`,
    command,
  ];
  const { code, stdout, stderr } = await runSsh(args, input);
  return { code, stdout, stderr };
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** GET `url`, optionally sending `host` as the Host header; connection errors reject. */
export function curl(url: string, host?: string, timeoutMs = 5000): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: host ? { Host: host } : {}, timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}
