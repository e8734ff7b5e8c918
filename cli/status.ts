// npm run status -- --stack S [--json] [--apps FILE] [--state FILE]
//
// What really runs on the stack's machines (rollout/fleetStatus.ts): read-only, over SSH with the
// connections the last deployment recorded; drift against apps.yaml and that deployment, one line
// each. Exit 0 without drift, 1 with drift (the report is printed all the same), 2 on a usage error.
// The deployment is `pulumi stack export --show-secrets` of the stack, or --state FILE (such an
// export, or the test bed's applied plan): the connections hold the deploy key, which only goes to
// a 0600 file for ssh and is removed on exit.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { appsForStack, loadCatalogFile, STACK_PATTERN } from "../config/catalog";
import { Deployment, inventoryOf, readFleet, renderStatus, statusReport, StatusError } from "../rollout/fleetStatus";
import { runOverConnection } from "../testbed/executor";
import { statusScript } from "../node/scripts";

const USAGE = "usage: npm run status -- --stack S [--json] [--apps FILE] [--state FILE]";

function fail(message: string, code: number): never {
  process.stderr.write(`status: ${message}\n`);
  process.exit(code);
}

/** Pulumi's export marks a secret as {<sig>: ..., plaintext: "<json>"} with --show-secrets. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (SECRET_SIG in o && typeof o.plaintext === "string") return unwrapSecrets(JSON.parse(o.plaintext));
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** A `pulumi stack export` (its Stack resource holds the outputs) or a plan's JSON. */
export function deploymentOf(json: unknown): Deployment {
  const j = unwrapSecrets(json) as {
    deployment?: { resources?: Deployment["resources"] & { outputs?: Record<string, unknown> }[] };
    resources?: Deployment["resources"];
    outputs?: Record<string, unknown>;
  };
  if (j.deployment) {
    const resources = (j.deployment.resources ?? []) as (Deployment["resources"][number] & { outputs?: Record<string, unknown> })[];
    return { resources, outputs: resources.find((r) => r.type === "pulumi:pulumi:Stack")?.outputs ?? {} };
  }
  if (Array.isArray(j.resources)) return { resources: j.resources, outputs: j.outputs ?? {} };
  throw new StatusError("the state is neither a `pulumi stack export` nor a plan's JSON");
}

function readDeployment(stack: string, stateFile: string | undefined): Deployment {
  let text: string;
  if (stateFile) {
    try {
      text = fs.readFileSync(stateFile, "utf8");
    } catch (err) {
      fail(`--state: ${stateFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`, 2);
    }
  } else {
    try {
      text = execFileSync("pulumi", ["stack", "export", "--stack", stack, "--show-secrets"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 512 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as { code?: string; stderr?: string };
      fail(
        e.code === "ENOENT"
          ? "the pulumi CLI is not installed: install it, or give the state with --state FILE"
          : `pulumi stack export --stack ${stack} failed: ${(e.stderr ?? "").trim().split("\n").pop()}`,
        1,
      );
    }
  }
  try {
    return deploymentOf(JSON.parse(text));
  } catch (err) {
    fail(`${stateFile ?? `stack ${stack}`}: ${err instanceof SyntaxError ? "not JSON" : (err as Error).message}`, 1);
  }
}

async function main(): Promise<void> {
  let values;
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        stack: { type: "string" },
        json: { type: "boolean", default: false },
        apps: { type: "string", default: "apps.yaml" },
        state: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    fail(`${(err as Error).message.split("\n")[0]}; ${USAGE}`, 2);
  }
  const stack = values.stack;
  if (!stack) fail(`--stack is required; ${USAGE}`, 2);
  if (!STACK_PATTERN.test(stack)) fail(`--stack: ${JSON.stringify(stack)} is not a stack name (${STACK_PATTERN.source})`, 2);
  const catalog = loadCatalogFile(values.apps);
  if (!catalog.catalog) fail(catalog.errors[0] ?? `${values.apps}: cannot be read`, 2);
  const deployment = readDeployment(stack, values.state);
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-status-"));
  try {
    const inventory = inventoryOf(stack, deployment, appsForStack(catalog.catalog, stack));
    const reading = await readFleet(
      inventory,
      (host, command, stdin) => runOverConnection(host.connection, command, stdin, keyDir),
      statusScript(),
    );
    const report = statusReport(inventory, reading);
    process.stdout.write(`${values.json ? JSON.stringify(report) : renderStatus(report)}\n`);
    process.exitCode = report.drift.length > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof StatusError) fail(err.message, 1);
    throw err;
  } finally {
    fs.rmSync(keyDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => fail((err as Error).message?.split("\n")[0] ?? String(err), 1));
}
