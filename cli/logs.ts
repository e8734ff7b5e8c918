// npm run logs -- APP --stack S [--since 1h] [--process web|NAME] [--follow]
//                  [--outputs FILE] [--ssh-user U] [--identity KEY] [--known-hosts FILE]
//
// The app's journal (gunicorn, its processes, its schedules' runs) from every app node of the
// stack over SSH, through the bastion (the nginx host 1), each line "NODE PROCESS TIME MESSAGE".
// The nodes come from the stack's outputs: `pulumi stack output --json --stack S`, or FILE (the
// same JSON; the e2e test bed writes one for its local nodes, which it reaches directly).
// Exit 0; 1 when a node could not be read (the others are printed all the same); 2 on a usage error.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as readline from "readline";
import { parseArgs } from "util";
import {
  formatEntry,
  journalCommand,
  LogsError,
  LogsQuery,
  LogsTarget,
  logsTargets,
  SshSettings,
  sshArgs,
  StackOutputs,
} from "../render/appLogs";

const USAGE =
  "usage: npm run logs -- APP --stack S [--since 1h] [--process web|NAME] [--follow] [--outputs FILE] [--ssh-user deploy] [--identity KEY] [--known-hosts FILE]";

class UsageError extends Error {}

function stackOutputs(stack: string, file: string | undefined): StackOutputs {
  if (file) {
    try {
      return JSON.parse(fs.readFileSync(file, "utf8")) as StackOutputs;
    } catch (err) {
      throw new LogsError(
        `${file}: cannot be read as the stack's outputs (${(err as Error).message.split("\n")[0]}); write it with: pulumi stack output --json --stack ${stack} > ${file}`,
      );
    }
  }
  const r = spawnSync("pulumi", ["stack", "output", "--json", "--stack", stack], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new LogsError(
      `pulumi stack output --stack ${stack} failed (${r.error?.message ?? r.stderr.trim().split("\n")[0]}); log in to Pulumi, or pass --outputs FILE`,
    );
  }
  return JSON.parse(r.stdout) as StackOutputs;
}

/** One node's journal, its entries printed as they come; resolves false when ssh failed. */
function readNode(app: string, target: LogsTarget, ssh: SshSettings, remote: string): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn("ssh", sshArgs(target, ssh, remote), { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const out = formatEntry(app, target.node, line);
      if (out !== undefined) process.stdout.write(`${out}\n`);
    });
    child.on("error", (err) => {
      process.stderr.write(`logs: ${target.node} (${target.address}): ssh: ${err.message}\n`);
      resolve(false);
    });
    child.on("close", (code) => {
      if (code !== 0 && code !== null)
        process.stderr.write(`logs: ${target.node} (${target.address}): ${stderr.trim().split("\n").pop() || `ssh exited ${code}`}\n`);
      resolve(code === 0);
    });
  });
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        stack: { type: "string" },
        since: { type: "string" },
        process: { type: "string" },
        follow: { type: "boolean", default: false },
        outputs: { type: "string" },
        "ssh-user": { type: "string", default: "deploy" },
        identity: { type: "string" },
        "known-hosts": { type: "string" },
      },
    });
  } catch (err) {
    throw new UsageError(`logs: ${(err as Error).message}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || !values.stack) throw new UsageError("logs: name one app and its --stack");
  const query: LogsQuery = { app: positionals[0], since: values.since, process: values.process, follow: values.follow };
  const remote = journalCommand(query);
  const { targets, bastion } = logsTargets(stackOutputs(values.stack, values.outputs), query.app, values.stack);
  const ssh: SshSettings = { user: values["ssh-user"], bastion, identity: values.identity, knownHosts: values["known-hosts"] };
  const ok = await Promise.all(targets.map((t) => readNode(query.app, t, ssh, remote)));
  return ok.every(Boolean) ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`logs: ${err instanceof LogsError ? err.message : String(err)}\n`);
    process.exit(err instanceof LogsError ? 2 : 1);
  },
);
