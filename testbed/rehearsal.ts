/**
 * `npm run rehearse`: an app's releases, in order, on one local stack of the test bed (app nodes,
 * the nginx host, PostgreSQL), through the real program's commands, under continuous load through
 * nginx; per release what a user would have seen. What an app team runs before its release pull
 * request, and what an app repository's CI can run (root, like the e2e tests).
 *
 * The catalog entry is the app team's own, validated by config/catalog.ts; its `tags` are
 * replaced by each rehearsed tag in turn on the local stack, every other key is kept as written.
 */
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { App, parseCatalog, TAG_PATTERN } from "../config/catalog";
import { Cluster, startCluster } from "./cluster";
import { ApplyResult, Ran } from "./executor";
import { get, Load, LocalStack, STACK } from "./localStack";
import { SITES_STEP } from "../render/nginx";
import { servingOf } from "../rollout/fleetStatus";

export interface ReleaseResult {
  tag: string;
  ok: boolean;
  seconds: number;
  /** Requests made through nginx while this release rolled out, and how many failed. */
  requests: number;
  failedRequests: number;
  /** The static assets the page links to after the release, fetched through nginx. */
  assets: { checked: number; broken: number };
  /** The one-line reason of the failed step, null when the release ended ok. */
  error: string | null;
  /** What the release's migrations do, as the expand step classified them (node/rollout/fleet_migrations.py). */
  migrations: MigrationEntry[];
  /** Per node, what serves after this release, read as `npm run status` reads it (rollout/fleetStatus.ts):
   *  after a refused or put-back release, what kept serving. */
  serving: Record<string, { tag: string | null; commit: string | null }>;
}

/** One migration of a release: its class and the step that runs it (or "refused"). */
export interface MigrationEntry {
  name: string;
  class: string;
  when: string;
  reason?: string;
  unapply?: boolean;
}

const MIGRATIONS_LINE = "fleet-migrations: ";

/** The migrations of the `fleet-migrations: {json}` line a step printed, if it printed one. */
export function migrationsOf(output: string): MigrationEntry[] | undefined {
  const line = output
    .split("\n")
    .filter((l) => l.startsWith(MIGRATIONS_LINE))
    .pop();
  if (line === undefined) return undefined;
  const parsed = JSON.parse(line.slice(MIGRATIONS_LINE.length)) as { migrations?: MigrationEntry[] };
  return parsed.migrations ?? [];
}

/** The JSON of `npm run rehearse -- --json` (a contract: other checks read it). */
export interface RehearsalReport {
  app: string;
  nodes: number;
  results: ReleaseResult[];
}

export class RehearsalInputError extends Error {}

/** The app to rehearse, and the one-app catalog the local stack gets for each tag. */
export interface RehearsalCatalog {
  app: App;
  catalogFor(tag: string): string;
}

/**
 * Picks `appName` (or the only app) out of a catalog file's text, validated as apps.yaml is.
 * Throws RehearsalInputError with one line naming the file and what to fix.
 */
export function rehearsalCatalog(text: string, file: string, appName?: string): RehearsalCatalog {
  // No knownStacks: the entry's tags are not used, so stacks this project lacks are no error.
  const { catalog, errors } = parseCatalog(text, file);
  if (!catalog) {
    const first = `${errors[0].file}:${errors[0].line}:${errors[0].col}: ${errors[0].where}: ${errors[0].message}`;
    throw new RehearsalInputError(errors.length > 1 ? `${first} (and ${errors.length - 1} more: npm run check-apps -- ${file})` : first);
  }
  const names = catalog.apps.map((a) => a.name);
  if (names.length === 0) throw new RehearsalInputError(`${file}: has no apps; rehearse needs the app's entry`);
  if (appName === undefined && names.length > 1)
    throw new RehearsalInputError(`${file}: has ${names.length} apps (${names.join(", ")}): pick one with --app`);
  const index = appName === undefined ? 0 : names.indexOf(appName);
  if (index < 0) throw new RehearsalInputError(`${file}: no app named ${JSON.stringify(appName)}; apps: ${names.join(", ")}`);
  // The validated text as plain data: the entry's keys, and the defaults, exactly as written.
  const raw = parse(text) as { defaults?: unknown; apps: Record<string, unknown>[] };
  const entry = raw.apps[index];
  return {
    app: catalog.apps[index],
    catalogFor: (tag) => stringify({ ...(raw.defaults ? { defaults: raw.defaults } : {}), apps: [{ ...entry, tags: { [STACK]: tag } }] }),
  };
}

/** Checks the tags' shape (as the catalog does) and that `repoPath` holds each of them. */
export function checkTags(tags: string[], repoPath: string, tagsIn: (repo: string) => string[]): void {
  if (tags.length === 0) throw new RehearsalInputError("--tags: give at least one tag, e.g. --tags v1.0.0,v1.1.0");
  const bad = tags.find((t) => !TAG_PATTERN.test(t));
  if (bad !== undefined)
    throw new RehearsalInputError(
      `--tags: ${JSON.stringify(bad)} is not a git tag the catalog allows (letters, digits, '.', '_', '-', '/'; no '..')`,
    );
  const known = new Set(tagsIn(repoPath));
  const missing = tags.filter((t) => !known.has(t));
  if (missing.length > 0)
    throw new RehearsalInputError(`--tags: ${repoPath} has no tag ${missing.join(", ")} (git tag -l there lists ${known.size} tag(s))`);
}

/** The one line that says why a rollout failed: the step's own error, not a traceback's last line. */
export function failureLine(result: ApplyResult): string {
  const failed = result.ran.find((r) => !r.ok);
  if (!failed) return `not run, a step it depends on did not finish: ${result.skipped.join(", ")}`;
  return stepError(failed);
}

function stepError(ran: Ran): string {
  const lines = ran.stderr
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== "");
  // The node scripts end a failure with `fleet: error: <cause and fix>` (node/rollout/lib.sh die).
  const own = lines.filter((l) => l.startsWith("fleet: error: ")).pop();
  if (own) return own.slice("fleet: error: ".length);
  return `${ran.name}: ${lines.pop() ?? `exited with an error and printed nothing`}`;
}

/** href/src of the page's stylesheets, icons, preloads, scripts and images (the assets a browser fetches). */
export function linkedAssets(html: string): string[] {
  const found: string[] = [];
  const attr = (tag: string, name: string) => new RegExp(`\\b${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, "i").exec(tag);
  for (const m of html.matchAll(/<(link|script|img|source)\b[^>]*>/gi)) {
    const tag = m[0];
    const kind = m[1].toLowerCase();
    if (kind === "link") {
      const rel = attr(tag, "rel");
      const rels = (rel?.[1] ?? rel?.[2] ?? rel?.[3] ?? "").toLowerCase();
      if (!/\b(stylesheet|icon|preload|modulepreload|manifest)\b/.test(rels)) continue;
    }
    const value = attr(tag, kind === "link" ? "href" : "src");
    const url = value?.[1] ?? value?.[2] ?? value?.[3];
    if (url) found.push(url.replace(/&amp;/g, "&"));
  }
  return [...new Set(found)];
}

/** The same-site path of an asset URL (relative to `pageUrl`), or undefined for another site's. */
export function sitePath(asset: string, pageUrl: string, domain: string): string | undefined {
  let url: URL;
  try {
    url = new URL(asset, pageUrl);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.hostname !== domain) return undefined;
  return url.pathname + url.search;
}

const ANSWERED = (status: number) => status >= 200 && status < 400;
const MAX_REDIRECTS = 5;

export interface RehearsalOptions {
  repoPath: string;
  catalog: RehearsalCatalog;
  tags: string[];
  /** The page the load requests and whose assets are checked. */
  path: string;
  nodes: number;
  log(line: string): void;
}

/** One rehearsal: start() the test bed, run() the releases, stop() (idempotent; also on a signal). */
export class Rehearsal {
  private cluster?: Cluster;
  private load?: Load;
  private work?: string;
  private stopping?: Promise<void>;

  constructor(private readonly opts: RehearsalOptions) {}

  async run(): Promise<RehearsalReport> {
    const { app } = this.opts.catalog;
    this.opts.log(`starting the test bed: ${this.opts.nodes} app node(s), nginx host, PostgreSQL; ${app.repo} from ${this.opts.repoPath}`);
    this.cluster = await startCluster({ appNodeCount: this.opts.nodes, repositories: { [app.repo]: this.opts.repoPath } });
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-rehearse-"));
    const stack = new LocalStack(this.cluster, this.work, (l) => this.opts.log(`  ${l}`), {
      appSecrets: { [app.name]: this.generatedSecrets(app) },
      // Production's rollout settings, but the test bed's clone URL and no package index.
      deploy: { healthSeconds: 30, gunicornWorkers: 3 },
    });
    const results: ReleaseResult[] = [];
    for (const tag of this.opts.tags) results.push(await this.release(stack, tag));
    return { app: app.name, nodes: this.opts.nodes, results };
  }

  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      await this.load?.stop();
      await this.cluster?.stop();
      if (this.work) fs.rmSync(this.work, { recursive: true, force: true });
    })());
  }

  /** Values for the entry's `secrets` (the rehearsal has no stack config to hold real ones). */
  private generatedSecrets(app: App): Record<string, string> {
    if (app.secrets.length > 0) this.opts.log(`secrets ${app.secrets.join(", ")}: generated values for the rehearsal`);
    return Object.fromEntries(app.secrets.map((n) => [n, `rehearsal-${randomBytes(12).toString("hex")}`]));
  }

  private async release(stack: LocalStack, tag: string): Promise<ReleaseResult> {
    const { app, catalogFor } = this.opts.catalog;
    this.opts.log(`${tag}: rolling out`);
    const started = Date.now();
    const before = { requests: this.load?.requests ?? 0, failed: this.load?.failed ?? 0, failures: this.load?.failures.length ?? 0 };
    let error: string | null = null;
    let migrations: MigrationEntry[] = [];
    try {
      const result = await stack.up(catalogFor(tag), {
        onDone: (ran) => {
          // The load starts the moment the first release serves through nginx: when the sites
          // step has published the app's upstream, which follows the switches.
          if (ran.ok && ran.name === SITES_STEP) this.startLoad();
          // Printed also when the expand step refuses the release: the refusal's migration is in it.
          if (ran.name === `${app.name}-expand`) migrations = migrationsOf(`${ran.stdout}\n${ran.stderr}`) ?? migrations;
        },
      });
      if (!result.ok) error = failureLine(result);
    } catch (err) {
      // The program refused the catalog or the settings before anything ran: its first line says why.
      error = (err as Error).message.split("\n").find((l) => l.trim() !== "") ?? String(err);
    }
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    const requests = (this.load?.requests ?? 0) - before.requests;
    const failedRequests = (this.load?.failed ?? 0) - before.failed;
    for (const f of this.load?.failures.slice(before.failures) ?? []) this.opts.log(`${tag}: failed request: ${f}`);
    const assets = await this.checkAssets(tag);
    return {
      tag,
      ok: error === null,
      seconds,
      requests,
      failedRequests,
      assets,
      error,
      migrations,
      serving: await this.serving(stack, tag),
    };
  }

  /** What each node serves now; a node that cannot be read (or a stack the program refused before
   *  it had hosts) has null. */
  private async serving(stack: LocalStack, tag: string): Promise<ReleaseResult["serving"]> {
    const { app, catalogFor } = this.opts.catalog;
    try {
      const { inventory, reading } = await stack.status(catalogFor(tag));
      return servingOf(inventory, reading, app.name);
    } catch (err) {
      this.opts.log(`${tag}: what serves could not be read: ${(err as Error).message.split("\n")[0]}`);
      return {};
    }
  }

  private startLoad(): void {
    if (this.load || !this.cluster) return;
    const { app } = this.opts.catalog;
    this.opts.log(`the first release serves: continuous GET ${this.opts.path} through nginx as ${app.domain}`);
    // Bounded only so a forgotten process cannot load forever: a day.
    this.load = new Load(`http://${this.cluster.staticHost.address}${this.opts.path}`, app.domain, 4, 24 * 3600, ANSWERED);
  }

  /** The page through nginx (following the site's own redirects), then every asset it links. */
  private async checkAssets(tag: string): Promise<{ checked: number; broken: number }> {
    const { domain } = this.opts.catalog.app;
    const edge = `http://${this.cluster!.staticHost.address}`;
    let pagePath = this.opts.path;
    let page = await get(edge + pagePath, domain);
    for (let i = 0; i < MAX_REDIRECTS && page.status >= 300 && page.status < 400; i++) {
      const next = sitePath(String(page.headers?.location ?? ""), `http://${domain}${pagePath}`, domain);
      if (next === undefined) break;
      pagePath = next;
      page = await get(edge + pagePath, domain);
    }
    if (page.status < 200 || page.status >= 300) {
      this.opts.log(`${tag}: ${pagePath} answered HTTP ${page.status}: no page to check assets on`);
      return { checked: 0, broken: 0 };
    }
    const assets = linkedAssets(page.body)
      .map((a) => sitePath(a, `http://${domain}${pagePath}`, domain))
      .filter((a): a is string => a !== undefined);
    let broken = 0;
    for (const asset of assets) {
      const a = await get(edge + asset, domain);
      if (a.status < 200 || a.status >= 300) {
        broken += 1;
        this.opts.log(`${tag}: broken asset ${asset}: HTTP ${a.status}`);
      }
    }
    return { checked: assets.length, broken };
  }
}

/** The line printed per release without --json. */
export function releaseLine(r: ReleaseResult): string {
  const counts = `${r.requests} requests, ${r.failedRequests} failed, assets ${r.assets.checked} checked, ${r.assets.broken} broken`;
  const migrations =
    r.migrations.length > 0 ? `; migrations: ${r.migrations.map((m) => `${m.name} ${m.class} (${m.when})`).join(", ")}` : "";
  return `${r.tag}: ${r.ok ? "ok" : "FAILED"} in ${r.seconds} s; ${counts}${migrations}${r.error ? `: ${r.error}` : ""}`;
}
