/**
 * A stack whose "cloud" is the local test bed: the real program (index.ts) is planned under
 * runtime mocks whose EC2 instances and database answer with the local nodes' addresses, and
 * the executor runs what the plan declares on those nodes. Keeps the applied state between
 * runs, as Pulumi's state would. Used by the e2e tests and by `npm run bench`.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { Plan, PlanResource, runPlan } from "../offline/plan";
import { edgeHostNames, nodeNames } from "../rollout/topology";
import { appIdentity } from "../config/identity";
import { DEPLOY_USER } from "../render/cloudInit";
import type { TlsFiles } from "../config/tlsConfig";
import type { Cluster, NodeHandle } from "./cluster";
import { apply, ApplyResult, EMPTY_STATE, ExecutorOptions, runOverConnection } from "./executor";
import { appsForStack, parseCatalog } from "../config/catalog";
import { FleetReading, Inventory, inventoryOf, readFleet } from "../rollout/fleetStatus";
import { statusScript } from "../node/scripts";

export const APP = "polls";
/** The fixture app's OS user, home, web root and database on the nodes (never its catalog name). */
export const APP_IDENTITY = appIdentity(APP);
export const DOMAIN = "polls.example.edu";
export const PORT = 8123;
export const STACK = "alpha";
/** A value of the app's `secrets`, to follow it from config to the node's environment file. */
export const APP_SECRET_VALUE = "e2e-secret-token-5f1c";

/** The e2e catalog: the fixture app pinned to `tag` on the alpha stack. */
export interface CatalogExtra {
  keepReleases?: number;
  env?: Record<string, string>;
  acknowledgeMigrations?: string[];
  migrationLockTimeout?: number;
  migrationRetries?: number;
  migrationSmallTableRows?: number;
  secrets?: string[];
  lines?: string[];
}

export function catalogText(tag: string, extra: CatalogExtra = {}): string {
  const env = Object.entries(extra.env ?? {});
  return [
    "apps:",
    `  - name: ${APP}`,
    "    repo: uni-it/polls",
    `    domain: ${DOMAIN}`,
    "    settings: pollsite.settings",
    "    wsgi: pollsite.wsgi:application",
    `    port: ${PORT}`,
    "    healthCheck: /healthz",
    `    keepReleases: ${extra.keepReleases ?? 3}`,
    `    secrets: [${["API_TOKEN", ...(extra.secrets ?? [])].join(", ")}]`,
    ...(extra.lines ?? []).map((l) => `    ${l}`),
    ...(env.length > 0 ? ["    env:", ...env.map(([k, v]) => `      ${k}: "${v}"`)] : []),
    ...(extra.acknowledgeMigrations ? [`    acknowledgeMigrations: [${extra.acknowledgeMigrations.join(", ")}]`] : []),
    ...(extra.migrationLockTimeout !== undefined ? [`    migrationLockTimeout: ${extra.migrationLockTimeout}`] : []),
    ...(extra.migrationRetries !== undefined ? [`    migrationRetries: ${extra.migrationRetries}`] : []),
    ...(extra.migrationSmallTableRows !== undefined ? [`    migrationSmallTableRows: ${extra.migrationSmallTableRows}`] : []),
    "    tags:",
    `      ${STACK}: ${tag}`,
    "",
  ].join("\n");
}

/** The repository of a fleet app made of the fixture (the cluster serves it: serveFixtureAs). */
export const fixtureFleetRepo = (name: string) => `uni-it/${name}`;

/** A catalog of the fixture app under each of `names` (on its own domain, database, user and
 *  port from `firstPort` on), all at `tag` on the alpha stack: a fleet of real apps. */
export function fixtureFleetCatalog(names: string[], tag: string, firstPort: number): string {
  const lines = ["apps:"];
  names.forEach((name, i) =>
    lines.push(
      `  - name: ${name}`,
      `    repo: ${fixtureFleetRepo(name)}`,
      `    domain: ${name}.example.edu`,
      "    settings: pollsite.settings",
      "    wsgi: pollsite.wsgi:application",
      `    port: ${firstPort + i}`,
      "    healthCheck: /healthz",
      "    tags:",
      `      ${STACK}: ${tag}`,
    ),
  );
  return `${lines.join("\n")}\n`;
}

export interface LocalStackOptions {
  /** fleet:appSecrets: per app, the values of its `secrets` (default: the e2e app's API_TOKEN). */
  appSecrets?: Record<string, Record<string, string>>;
  /** fleet:deploy keys over the test bed's own (which clone from the cluster, with pipMode system). */
  deploy?: Record<string, unknown>;
  /** fleet:nodes keys over the test bed's own (count, instance type, AMI): heavyJobs. */
  nodes?: { heavyJobs?: number };
}

/** fleet:deploy on the test bed: clones from the cluster's repositories, no package index. */
const TESTBED_DEPLOY = { pipMode: "system", healthSeconds: 10, gunicornWorkers: 2 };

export class LocalStack {
  state: Plan = EMPTY_STATE;
  /** fleet:appSecrets of the stack (the fixture app's secret; a catalog without it sets none). */
  appSecrets: Record<string, Record<string, string>> = { [APP]: { API_TOKEN: APP_SECRET_VALUE } };
  /** fleet:tls of the stack: per app, the certificate and key nginx serves it with over HTTPS. */
  tls?: Record<string, TlsFiles>;
  /** More values of the app's `secrets` (fleet:appSecrets) than API_TOKEN, by name. */
  secrets: Record<string, string> = {};
  /** The machines that are the stack's app nodes node-1, node-2, ... in that order, as EC2
   *  instances would be: by default the cluster's app nodes. Another machine in a place is a
   *  replaced instance (a new address, a new id); a longer or shorter list, another node count. */
  nodes: NodeHandle[];
  private masterReady = false;
  /** Machines whose first boot (the files cloud-init writes) has been played. */
  private readonly booted = new Set<string>();
  /** Machines the applied state has as nodes: those no plan has any more are terminated once an
   *  `up` succeeded, as the engine deletes a replaced or removed instance last. */
  private inState: NodeHandle[] = [];

  private readonly keyDir: string;

  constructor(
    readonly cluster: Cluster,
    readonly workDir: string,
    readonly log?: (line: string) => void,
    private readonly options: LocalStackOptions = {},
  ) {
    this.keyDir = path.join(workDir, "keys");
    fs.mkdirSync(this.keyDir, { recursive: true, mode: 0o700 });
    if (options.appSecrets) this.appSecrets = options.appSecrets;
    this.nodes = [...cluster.appNodes];
  }

  /** fleet:appSecrets: the stack's, with the extra `secrets` values of the fixture app. */
  private stackAppSecrets(): Record<string, Record<string, string>> {
    if (Object.keys(this.secrets).length === 0) return this.appSecrets;
    return { ...this.appSecrets, [APP]: { ...this.appSecrets[APP], ...this.secrets } };
  }

  /** Logical resource name -> local address, as the mocks should answer. */
  addresses(): Record<string, string> {
    const a: Record<string, string> = { database: this.cluster.postgres.host };
    // The plan's nginx hosts (static-host, static-host-2, ...) are the cluster's, in order.
    edgeHostNames(this.cluster.staticHosts.length).forEach((name, i) => (a[name] = this.cluster.staticHosts[i].address));
    this.nodes.forEach((machine, i) => (a[nodeName(i)] = machine.address));
    return a;
  }

  /** The program's plan for `catalog` (a tag, or a whole catalog text). */
  async plan(catalog: string): Promise<Plan> {
    const text = catalog.includes("\n") ? catalog : catalogText(catalog);
    const file = path.join(this.workDir, `apps-${Date.now()}-${randomBytes(3).toString("hex")}.yaml`);
    fs.writeFileSync(file, text);
    return runPlan({
      stack: STACK,
      appsFile: file,
      revealSecrets: true,
      addresses: this.addresses(),
      // The program's deploy key is the test bed's key (the mock would invent one).
      overrides: { "deploy-key-key": { privateKeyOpenssh: this.cluster.privateKeyPem } },
      config: {
        "fleet:nodes": JSON.stringify({
          count: this.nodes.length,
          instanceType: "t3.small",
          ami: "ami-0c1c30571d2dae5c9",
          ...this.options.nodes,
        }),
        "fleet:deploy": JSON.stringify({
          ...TESTBED_DEPLOY,
          ...this.options.deploy,
          gitUrlTemplate: `${this.cluster.gitBaseUrl}/{repo}.git`,
        }),
        "fleet:appSecrets": JSON.stringify(this.stackAppSecrets()),
        ...(this.tls ? { "fleet:tls": JSON.stringify(this.tls) } : {}),
        // As many nginx hosts as the cluster has (with two or more, the plan puts a load balancer in front).
        ...(this.cluster.staticHosts.length > 1 ? { "fleet:staticHost": JSON.stringify({ count: this.cluster.staticHosts.length }) } : {}),
      },
    });
  }

  /** `pulumi up` with `catalog`: plan, then run what changed since the last run. */
  async up(catalog: string, opts: Pick<ExecutorOptions, "onStart" | "onDone"> = {}): Promise<ApplyResult> {
    const desired = await this.plan(catalog);
    await this.ensureMasterUser(desired);
    await this.firstBoot(desired);
    const result = await apply(this.state, desired, { keyDir: this.keyDir, log: this.log, ...opts });
    this.state = result.state;
    await this.terminateLeftMachines(result.ok);
    return result;
  }

  /** After a successful `up`, the machines that are no node any more go, as the engine deletes
   *  their instances after every other delete; after a failed one they stay (pending deletion). */
  private async terminateLeftMachines(ok: boolean): Promise<void> {
    const left = this.inState.filter((m) => !this.nodes.includes(m));
    if (!ok) {
      this.inState = [...left, ...this.nodes];
      return;
    }
    for (const machine of left) {
      this.log?.(`terminate ${machine.name} (${machine.address}): its instance is deleted`);
      await this.cluster.terminate(machine);
    }
    this.inState = [...this.nodes];
  }

  /**
   * What cloud-init does on a node's first boot that the rollout's scripts and systemd read: the
   * files of the user data the plan gives the node's EC2 instance (the node's config file, so
   * fleet:nodes reaches the test nodes the way it reaches EC2 ones; gunicorn@.service), then,
   * on a systemd node, its `systemctl daemon-reload`. Once per node, as cloud-init writes files once.
   */
  private async firstBoot(plan: Plan): Promise<void> {
    for (const [i, node] of this.nodes.entries()) {
      if (this.booted.has(node.name)) continue;
      const instance = plan.resources.find((r) => r.type === "aws:ec2/instance:Instance" && r.name === nodeName(i));
      if (!instance) throw new Error(`the plan declares no instance ${nodeName(i)}`);
      // The deploy user's sudo is what the user data gives it, not the test bed's own rule
      // (node-init.sh's, a cloud image's default user's): on an app node, the node helper only.
      const writes = [
        deploySudoOf(instance),
        ...writeFilesOf(instance).map(
          (f) =>
            `mkdir -p "$(dirname '${f.path}')" && echo ${Buffer.from(f.content).toString("base64")} | base64 -d >'${f.path}' && chmod ${f.permissions} '${f.path}'`,
        ),
      ];
      if (this.cluster.init === "systemd") writes.push("systemctl daemon-reload");
      const r = await this.cluster.exec(node, writes.join(" && ") || "true");
      if (r.code !== 0) throw new Error(`${node.name}: playing cloud-init's files failed: ${r.stderr.trim()}`);
      this.booted.add(node.name);
    }
  }

  /** RDS creates its master user: here the local PostgreSQL gets the plan's, like RDS (no superuser). */
  private async ensureMasterUser(plan: Plan): Promise<void> {
    if (this.masterReady) return;
    const rds = plan.resources.find((r) => r.type === "aws:rds/instance:Instance");
    if (!rds) throw new Error("the plan declares no database");
    const user = String(rds.inputs.username);
    const password = String(rds.inputs.password);
    if (!/^[a-z][a-z0-9]*$/.test(user) || !/^[A-Za-z0-9]+$/.test(password)) throw new Error("unexpected master credentials shape");
    const superPw = randomBytes(12).toString("hex");
    await this.cluster.postgres.setSuperuserPassword(superPw);
    await this.psql(
      superPw,
      `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${user}') THEN CREATE ROLE ${user} LOGIN CREATEDB CREATEROLE; END IF; END $$;
ALTER ROLE ${user} PASSWORD '${password}';`,
    );
    this.superPassword = superPw;
    this.masterReady = true;
  }

  private superPassword = "";

  /** Runs SQL as the database superuser; returns the rows (unaligned, tuples only). */
  psql(superPw: string, sql: string, database = "postgres"): Promise<string> {
    const pg = this.cluster.postgres;
    return new Promise((resolve, reject) => {
      const child = execFile(
        "psql",
        ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", String(pg.port), "-U", pg.superuser, "-d", database],
        { env: { ...process.env, PGPASSWORD: superPw } },
        (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout.trim())),
      );
      child.stdin!.end(sql);
    });
  }

  /** A query on the app's own database, as the superuser. */
  appQuery(sql: string): Promise<string> {
    return this.psql(this.superPassword, sql, APP_IDENTITY.database);
  }

  /** Another session on the app's database running `sql` (say, a transaction holding a lock)
   *  until the returned function ends it. */
  appSession(sql: string): () => Promise<void> {
    const pg = this.cluster.postgres;
    const child = spawn("psql", ["-X", "-q", "-h", pg.host, "-p", String(pg.port), "-U", pg.superuser, "-d", APP_IDENTITY.database], {
      env: { ...process.env, PGPASSWORD: this.superPassword },
      stdio: ["pipe", "ignore", "ignore"],
    });
    child.stdin!.write(sql);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    return async () => {
      child.kill("SIGTERM");
      await exited;
    };
  }

  /** What runs on the stack's hosts now, read as `npm run status` reads them (rollout/fleetStatus.ts),
   *  against `catalog` (a tag or a catalog text) and the applied state. */
  async status(catalog: string): Promise<{ inventory: Inventory; reading: FleetReading }> {
    const text = catalog.includes("\n") ? catalog : catalogText(catalog);
    const parsed = parseCatalog(text, "apps.yaml").catalog;
    if (!parsed) throw new Error("status: the catalog does not parse");
    const inventory = inventoryOf(STACK, this.state, appsForStack(parsed, STACK));
    return {
      inventory,
      reading: await readFleet(
        inventory,
        (host, command, stdin) => runOverConnection(host.connection, command, stdin, this.keyDir),
        statusScript(),
      ),
    };
  }

  /** The release a node's <app home>/current points at ("" when none). */
  async currentOn(node: NodeHandle, home = APP_IDENTITY.home): Promise<string> {
    const r = await this.cluster.exec(node, `readlink ${home}/current || true`);
    return path.basename(r.stdout.trim());
  }

  async nodeRelease(node: NodeHandle): Promise<string> {
    return releaseOf(await get(`http://${node.address}:${PORT}/`, DOMAIN));
  }

  async nginxRelease(): Promise<string> {
    return releaseOf(await get(`http://${this.cluster.staticHost.address}/`, DOMAIN));
  }

  /** The release nginx serves over HTTPS, trusting only `ca`. */
  async nginxReleaseOverTls(ca: string): Promise<string> {
    return releaseOf(await get(`https://${this.cluster.staticHost.address}/`, DOMAIN, { ca }));
  }
}

/** The program's name of the i-th app node (node-1, ...). */
const nodeName = (i: number): string => nodeNames(i + 1)[i];

/** The node config file's content in an instance's cloud-config user data, if it writes one. */
interface WriteFile {
  path: string;
  permissions: string;
  content: string;
}

/** node-init.sh's sudoers rule of the deploy user, the test bed's stand-in for a cloud image's. */
const TESTBED_DEPLOY_SUDOERS = "/etc/sudoers.d/90-fleet-e2e-deploy";

/** The command that gives the deploy user the sudo rule the instance's cloud-config `users` entry
 *  gives it (none: the rule goes), in place of the test bed's. */
function deploySudoOf(instance: PlanResource): string {
  const doc = parseYaml(String(instance.inputs.userData ?? "")) as { users?: (string | { name?: string; sudo?: unknown })[] } | null;
  const entry = (doc?.users ?? []).find((u): u is { name?: string; sudo?: unknown } => typeof u === "object" && u.name === DEPLOY_USER);
  if (!entry) throw new Error(`${instance.name}'s cloud-init: no ${DEPLOY_USER} user`);
  if (entry.sudo === undefined) return `rm -f ${TESTBED_DEPLOY_SUDOERS}`;
  if (typeof entry.sudo !== "string" || !/^[A-Za-z0-9=(),: ]+$/.test(entry.sudo))
    throw new Error(
      `${instance.name}'s cloud-init: the ${DEPLOY_USER} user's sudo ${JSON.stringify(entry.sudo)} is not what the test bed plays`,
    );
  return `printf '%s %s\\n' ${DEPLOY_USER} '${entry.sudo}' >${TESTBED_DEPLOY_SUDOERS}`;
}

/** The write_files of an instance's cloud-config, checked: they become shell words above. */
function writeFilesOf(instance: PlanResource): WriteFile[] {
  const doc = parseYaml(String(instance.inputs.userData ?? "")) as { write_files?: WriteFile[] } | null;
  const files = doc?.write_files ?? [];
  for (const f of files) {
    if (!/^\/[A-Za-z0-9@._/-]+$/.test(f.path) || !/^0[0-7]{3}$/.test(f.permissions)) {
      throw new Error(
        `${instance.name}'s cloud-init: write_files entry ${JSON.stringify(f.path)} (${f.permissions}): a path of [A-Za-z0-9@._/-] and a mode 0NNN are what the test bed plays`,
      );
    }
  }
  return files;
}

export interface Answer {
  status: number;
  body: string;
  headers?: http.IncomingHttpHeaders;
}

/**
 * GET with a Host header; never throws (status 0 and the error as body). An https:// URL is
 * checked against `ca` only, for the name `host` (SNI), as a browser would for that domain.
 */
export function get(url: string, host: string, opts: { timeoutMs?: number; ca?: string } = {}): Promise<Answer> {
  const tls = url.startsWith("https:");
  const client = tls ? https : http;
  return new Promise((resolve) => {
    const req = client.get(
      url,
      { headers: { Host: host }, timeout: opts.timeoutMs ?? 10000, agent: false, ...(tls ? { ca: opts.ca, servername: host } : {}) },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on("error", (e) => resolve({ status: 0, body: String(e) }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, body: String(e) }));
  });
}

/** The release a page says it is, from the environment (release:) and from the code (code:);
 *  both must agree, else the answer names both. */
function releaseOf(a: Answer): string {
  const release = /release: (\S+)</.exec(a.body)?.[1];
  const code = /code: (\S+)</.exec(a.body)?.[1];
  if (!release || !code) return `HTTP ${a.status}`;
  return release === code ? code : `release ${release}, code ${code}`;
}

/** The hashed stylesheet a page links to. */
export function stylesheetOf(body: string): string | undefined {
  return /href="(\/static\/(?:[0-9a-f]{40}\/)?polls\/app\.[0-9a-f]{12}\.css)"/.exec(body)?.[1];
}

/** What a Load counts as answered: 200 only (the e2e pages), unless told otherwise. */
export type Accept = (status: number) => boolean;

/**
 * Continuous load through nginx on the app's domain: `workers` loops of GET `url`, each request
 * after the previous one, until stop() (bounded by maxSeconds). Counts every answer `accept`
 * refuses (by default: other than 200; no answer is status 0) as a failed request.
 */
export class Load {
  requests = 0;
  failed = 0;
  failures: string[] = [];
  private running = true;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly url: string,
    private readonly host: string,
    workers = 4,
    maxSeconds = 300,
    private readonly accept: Accept = (s) => s === 200,
  ) {
    const until = Date.now() + maxSeconds * 1000;
    for (let i = 0; i < workers; i++) this.loops.push(this.loop(until));
  }

  private async loop(until: number): Promise<void> {
    while (this.running && Date.now() < until) {
      const a = await get(this.url, this.host);
      this.requests += 1;
      if (!this.accept(a.status)) {
        this.failed += 1;
        if (this.failures.length < 10) this.failures.push(`${a.status} ${a.body.slice(0, 120)}`);
      }
    }
  }

  async stop(): Promise<{ requests: number; failed: number; failures: string[] }> {
    this.running = false;
    await Promise.all(this.loops);
    return { requests: this.requests, failed: this.failed, failures: this.failures };
  }
}
