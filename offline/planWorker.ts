// Runs the real Pulumi program (index.ts) under @pulumi/pulumi's runtime mocks and writes what it
// declared as JSON. One process per plan: the Pulumi runtime keeps global state, so a fresh process
// is the only way two plans (base and head) cannot leak into each other.
//
// Usage (from offline/plan.ts, not by hand): planWorker.ts <request.json> <result.json>
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { projectDir, projectName, readStackConfig } from "../config/stackFiles";
import { FleetMocks } from "./mocks";
import { PlanRequest, PlanResource, PlanResult, PlanUsage, Plan, SECRET_TEXT } from "./planTypes";
import { decodeWire, fingerprintSecrets, recordUnderMocks, Registration, SecretView, settle, unwrapSecret } from "./recorder";

// The SDK takes a stack trace for every promise it makes (runtime/debuggable.js, to report leaks)
// and for every resource (its source position), and ts-node's source-map-support maps each frame
// through the source maps: 60 % of a 20-app plan's CPU time. Nothing here reads them (a failure
// prints its message alone, see fail()): V8's own formatting, and no frames for the promises.
Reflect.deleteProperty(Error, "prepareStackTrace");
Error.stackTraceLimit = 0;

/** `user@host[:port]` of a connection (or proxy) value; a part that is itself secret stays masked. */
function sshTarget(c: Record<string, unknown>): string {
  const part = (x: unknown, fallback: string) => (x === undefined || x === null ? fallback : String(decodeWire(x, false)));
  const port = c.port === undefined || c.port === null || c.port === 22 ? "" : `:${part(c.port, "22")}`;
  return `${part(c.user, "root")}@${part(c.host, "?")}${port}`;
}

/** A connection (or its proxy) as an object, looking through the secret wrapped around it. */
function connectionObject(v: unknown): Record<string, unknown> | undefined {
  const inner = unwrapSecret(v);
  return inner && typeof inner === "object" ? (inner as Record<string, unknown>) : undefined;
}

/** Where a remote command runs, from its connection input. */
function runsOn(inputs: Record<string, unknown>): string | undefined {
  const c = connectionObject(inputs.connection);
  if (!c) return undefined;
  const proxy = connectionObject(c.proxy);
  return sshTarget(c) + (proxy ? ` via ${sshTarget(proxy)}` : "");
}

/** A registration as the plan shows it. */
function planResource(r: Registration, reveal: SecretView): PlanResource {
  const where = r.type.startsWith("command:remote:") ? runsOn(r.wire) : undefined;
  return {
    urn: r.urn,
    type: r.type,
    name: r.name,
    parent: r.parent || null,
    dependsOn: [...r.dependsOn].sort(),
    inputs: decodeWire(r.wire, reveal) as Record<string, unknown>,
    ...(where ? { runsOn: where } : {}),
  };
}

async function plainOutput(v: unknown, reveal: boolean): Promise<unknown> {
  const out = pulumi.output(v as pulumi.Input<object>) as pulumi.Output<unknown>;
  const [value, secret] = await Promise.all([
    new Promise<unknown>((resolve) => out.apply((x: unknown) => resolve(x))),
    pulumi.isSecret(out),
  ]);
  if (secret && !reveal) return SECRET_TEXT;
  return JSON.parse(JSON.stringify(value ?? null));
}

async function main(requestFile: string, resultFile: string): Promise<void> {
  const req = JSON.parse(fs.readFileSync(requestFile, "utf8")) as PlanRequest;
  const dir = projectDir();
  const project = projectName(dir);
  const stackConfig = readStackConfig(req.stack, dir, req.stackFile);
  // The program reads the same file for the positions of its messages (config/load.ts).
  if (req.stackFile) process.env.FLEET_STACK_FILE = req.stackFile;
  const config = { ...stackConfig.values };
  for (const [k, v] of Object.entries(req.config ?? {})) config[k.includes(":") ? k : `${project}:${k}`] = v;
  if (req.appsFile) config[`${project}:appsFile`] = path.resolve(req.appsFile);

  const region = config["aws:region"] ?? "eu-west-1";
  pulumi.runtime.setAllConfig(config, stackConfig.secretKeys);
  const recorder = recordUnderMocks(
    (secretOutputs) => new FleetMocks({ region, addresses: req.addresses ?? {}, overrides: req.overrides ?? {}, secretOutputs }),
    project,
    req.stack,
  );

  // The offline plan asks GitHub nothing (no token, forks' pull requests): `latest` stays unresolved.
  // Tests of the program's GitHub side set FLEET_GITHUB_OFFLINE=0 and point GITHUB_API_URL at a
  // local stand-in.
  process.env.FLEET_GITHUB_OFFLINE ??= "1";
  // Without an engine, pulumi.log.warn writes to console.warn: keep those lines for the plan.
  const warnings: string[] = [];
  console.warn = (...args: unknown[]) =>
    warnings.push(
      args
        .map(String)
        .join(" ")
        .replace(/^warning: \[runtime\] /, ""),
    );
  process.chdir(dir);
  const program = require(path.join(dir, "index.ts")) as Record<string, unknown>;
  await settle();
  const outputs: Record<string, unknown> = {};
  for (const key of Object.keys(program).sort())
    outputs[key] = await plainOutput(program[key], !!req.revealSecrets && !req.secretFingerprintKey);
  await settle();

  const view: SecretView = req.secretFingerprintKey ? fingerprintSecrets(req.secretFingerprintKey) : !!req.revealSecrets;
  const resources = recorder.drain().map((r) => planResource(r, view));
  resources.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  const plan: Plan = { stack: req.stack, resources, outputs, ...(warnings.length > 0 ? { warnings: warnings.sort() } : {}) };
  const result: PlanResult = { plan, usage: usage() };
  fs.writeFileSync(resultFile, JSON.stringify(result), { mode: 0o600 });
}

/** What this process cost: its peak resident memory and CPU time (bench's plan figures). */
function usage(): PlanUsage {
  const u = process.resourceUsage();
  return { maxRssMb: Math.round(u.maxRSS / 1024), cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6 };
}

/** One line, no stack trace: the program's own errors (catalog, config) are already worded for people. */
function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${message.trim()}\n`);
  process.exit(1);
}

process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);
main(process.argv[2], process.argv[3]).catch(fail);
