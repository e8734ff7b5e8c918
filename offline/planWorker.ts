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
import { PlanRequest, PlanResource, Plan, SECRET_TEXT } from "./planTypes";

// Signatures the Pulumi wire format uses inside serialized property values.
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const RESOURCE_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getAdditionalsecretoutputsList(): string[];
  getObject(): { toJavaScript(): unknown } | undefined;
}
type Callback = (err: unknown, resp?: { getUrn(): string }) => void;
interface Monitor {
  registerResource(req: RegisterRequest, cb: Callback): unknown;
}

/** `user@host[:port]` of a connection (or proxy) value; a part that is itself secret stays masked. */
function sshTarget(c: Record<string, unknown>): string {
  const part = (x: unknown, fallback: string) => (x === undefined || x === null ? fallback : String(plain(x, false)));
  const port = c.port === undefined || c.port === null || c.port === 22 ? "" : `:${part(c.port, "22")}`;
  return `${part(c.user, "root")}@${part(c.host, "?")}${port}`;
}

/** A connection (or its proxy) as an object, looking through the secret wrapped around it. */
function connectionObject(v: unknown): Record<string, unknown> | undefined {
  const o = v as Record<string, unknown> | undefined;
  const inner = o && typeof o === "object" && o[SIG_KEY] === SECRET_SIG ? o.value : o;
  return inner && typeof inner === "object" ? (inner as Record<string, unknown>) : undefined;
}

/** Where a remote command runs, from its connection input. */
function runsOn(inputs: Record<string, unknown>): string | undefined {
  const c = connectionObject(inputs.connection);
  if (!c) return undefined;
  const proxy = connectionObject(c.proxy);
  return sshTarget(c) + (proxy ? ` via ${sshTarget(proxy)}` : "");
}

/** Turns wire-format values into plain JSON: secrets masked (or revealed), references as URNs. */
function plain(v: unknown, reveal: boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => plain(x, reveal));
  if (v === UNKNOWN) return "[unknown]";
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SIG_KEY] === SECRET_SIG) return reveal ? plain(o.value, reveal) : SECRET_TEXT;
    if (o[SIG_KEY] === RESOURCE_SIG) return o.urn;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, plain(o[k], reveal)]),
    );
  }
  return v;
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

  const secretOutputs = new Map<string, string[]>();
  const region = config["aws:region"] ?? "eu-west-1";
  pulumi.runtime.setAllConfig(config, stackConfig.secretKeys);
  pulumi.runtime.setMocks(
    new FleetMocks({ region, addresses: req.addresses ?? {}, overrides: req.overrides ?? {}, secretOutputs }),
    project,
    req.stack,
    false,
  );

  const resources: PlanResource[] = [];
  const monitor = (pulumi.runtime as unknown as { getMonitor(): Monitor }).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, cb) => {
    secretOutputs.set(`${request.getType()}::${request.getName()}`, request.getAdditionalsecretoutputsList());
    return register(request, (err, resp) => {
      if (!err && resp) {
        const raw = (request.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
        const where = request.getType().startsWith("command:remote:") ? runsOn(raw) : undefined;
        resources.push({
          urn: resp.getUrn(),
          type: request.getType(),
          name: request.getName(),
          parent: request.getParent() || null,
          dependsOn: [...new Set(request.getDependenciesList())].sort(),
          inputs: plain(raw, !!req.revealSecrets) as Record<string, unknown>,
          ...(where ? { runsOn: where } : {}),
        });
      }
      cb(err, resp);
    });
  };

  // The offline plan asks GitHub nothing (no token, forks' pull requests): `latest` stays unresolved.
  // Tests of the program's GitHub side set FLEET_GITHUB_OFFLINE=0 and point GITHUB_API_URL at a
  // local stand-in.
  process.env.FLEET_GITHUB_OFFLINE ??= "1";
  // Without an engine, pulumi.log.warn writes to console.warn: keep those lines for the plan.
  const warnings: string[] = [];
  console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(" ").replace(/^warning: \[runtime\] /, ""));
  process.chdir(dir);
  const program = require(path.join(dir, "index.ts")) as Record<string, unknown>;
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  await settings.waitForRPCs();
  const outputs: Record<string, unknown> = {};
  for (const key of Object.keys(program).sort()) outputs[key] = await plainOutput(program[key], !!req.revealSecrets);
  await settings.waitForRPCs();

  resources.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  const plan: Plan = { stack: req.stack, resources, outputs, ...(warnings.length > 0 ? { warnings: warnings.sort() } : {}) };
  fs.writeFileSync(resultFile, JSON.stringify(plan), { mode: 0o600 });
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
