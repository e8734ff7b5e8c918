/**
 * Small clients for assertions against the e2e cluster: OpenSSH's command-line
 * client as the deploy user, and a plain HTTP GET with a chosen Host header.
 */
import { spawn } from "node:child_process";
import * as http from "node:http";
import type { Cluster, ExecResult, NodeHandle } from "./cluster";

/** Runs `command` on `node` over SSH as cluster.sshUser; `input` goes to its stdin. */
export function sshRun(cluster: Cluster, node: NodeHandle, command: string, input = ""): Promise<ExecResult> {
  const args = [
    "-i", cluster.privateKeyPath,
    "-p", String(cluster.sshPort),
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    `${cluster.sshUser}@${node.address}`,
    command,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 255, stdout, stderr }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
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
