// The app catalog (apps.yaml): parsing, validation and types.
//
// Pure on purpose: no Pulumi here, so the rules are tested without any runtime and the same
// messages come out of `npm run check-apps`, the offline plan and `pulumi up`.
//
// Every value that later reaches a shell, a path, an nginx config or a git command is checked
// against a strict pattern here; the scripts quote as well, but they never see anything else.
import * as fs from "fs";
import { z } from "zod";
import { Document, isCollection, isMap, isNode, isScalar, LineCounter, parseDocument, visit } from "yaml";
import type { Node as YamlNode } from "yaml";
import { CHOICES, LIMITS, OVERRIDE_NAMES, RULES, ruleRegExp } from "./patterns";
import { appIdentity } from "./identity";
import { allocatePorts, AppPort, portMoves } from "./ports";
import { Process, processesOf, processesSchema, PROCESS_NAME_PATTERN, Schedule, schedulesOf, schedulesSchema } from "./processes";

export const NAME_PATTERN = ruleRegExp(RULES.app);
export const REPO_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$/;
export const TAG_PATTERN = ruleRegExp(RULES.tag);
export const STACK_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
export const DOMAIN_PATTERN = ruleRegExp(RULES.domain);
export const DOTTED_PATTERN = ruleRegExp(RULES.dotted);
export const WSGI_PATTERN = ruleRegExp(RULES.wsgi);
export const ENV_NAME_PATTERN = ruleRegExp(RULES.envName);
export const HEALTH_PATH_PATTERN = ruleRegExp(RULES.healthPath);
/** A Django migration as "app_label.name" (both Python identifiers; names may start with a digit). */
export const MIGRATION_PATTERN = /^(?=.{1,200}$)[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z0-9_]+$/;
/** The most entries of an app's list fields: each goes on a command line (acknowledgeMigrations) or
 *  into the environment file; far above what a release needs. */
export const MAX_LIST_ENTRIES = 200;
/** The word that means "the newest release tag", resolved from GitHub before deploying. */
export const LATEST = "latest";
/** The text of an app's maintenance page: one line of plain words and punctuation. It is written
 *  into the nginx config and the page as is, so nothing nginx or HTML treats specially (quotes,
 *  backslash, $, <, >, &, braces). */
export const MAINTENANCE_MESSAGE_PATTERN = /^[A-Za-z0-9 .,:;!?()'/@_+-]{1,200}$/;

/** Environment names the platform itself sets for every app: the catalog may not override them. */
export const RESERVED_ENV = [
  "DJANGO_SETTINGS_MODULE",
  "DATABASE_URL",
  "DB_HOST",
  "DB_PORT",
  "DB_NAME",
  "DB_USER",
  "DB_PASSWORD",
  "SECRET_KEY",
  "DJANGO_SECRET_KEY",
  "AWS_STORAGE_BUCKET_NAME",
  "AWS_S3_REGION_NAME",
  "ALLOWED_HOSTS",
  "SITE_URL",
  "STATIC_ROOT",
  "STATIC_URL",
  "FLEET_APP",
  "FLEET_APP_SETTINGS",
  "FLEET_RELEASE_TAG",
  "FLEET_RELEASE_COMMIT",
];

/**
 * What the platform's settings module (node/rollout/fleet_platform_settings.py) sets over the
 * app's own settings, each on unless the catalog turns it off (`overrides: { storage: false }`):
 * database (DATABASES), hosts (ALLOWED_HOSTS), static (STATIC_URL, STATIC_ROOT), secretKey
 * (SECRET_KEY), proxy (SECURE_PROXY_SSL_HEADER, CSRF_TRUSTED_ORIGINS), storage (media in S3),
 * debug (DEBUG = False: a production site never shows tracebacks, whatever the app's settings say).
 */
export { OVERRIDE_NAMES } from "./patterns";
export type OverrideName = (typeof OVERRIDE_NAMES)[number];
export type Overrides = Record<OverrideName, boolean>;
/** Every override on: what an app gets when the catalog says nothing. */
export const ALL_OVERRIDES: Overrides = Object.fromEntries(OVERRIDE_NAMES.map((o) => [o, true])) as Overrides;
/** check --deploy warnings: listed ("warn") or stopping the release ("fail"); its errors always stop it. */
export const DEPLOY_CHECKS = CHOICES.deployChecks.values;
export type DeployChecks = (typeof DEPLOY_CHECKS)[number];

/** Limits of every YAML file the fleet reads (the catalog and the stack files). */
export const MAX_FILE_BYTES = 1024 * 1024;
export const MAX_ALIASES = 50;
/** How deep collections may nest: the catalog needs 5 levels, a stack file 6. */
export const MAX_DEPTH = 32;

/** A value as an error line quotes it: whole when short, else its start and its length (the line stays one readable line). */
function quoted(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 120 ? text : `${text.slice(0, 60)}..." (${String(value).length} characters)`;
}

const pattern = (re: RegExp, what: string) =>
  z.string({ error: (i) => (i.input === undefined ? "is required" : `must be a string, ${what}`) }).regex(re, {
    error: (i) => `${quoted(i.input)} is not allowed: ${what}`,
  });

const tagValue = pattern(
  TAG_PATTERN,
  "a git tag (letters, digits, '.', '_', '-', '/'; starting with a letter or digit; no '..'; at most 128) or \"latest\"",
);

const envValue = z
  .string({ error: (i) => `must be a string (quote it: "${String(i.input)}")` })
  .max(4096, { error: "is longer than 4096 characters" })
  .refine((v) => !/[\r\n\0]/.test(v), { error: "must be a single line (no newline or NUL)" });

const envMap = z.record(
  z.string().regex(ENV_NAME_PATTERN, { error: (i) => `name ${JSON.stringify(i.input)} is not allowed: use ^[A-Z_][A-Z0-9_]*$` }),
  envValue,
  { error: 'must be a map of NAME: "value"' },
);

const keepReleases = z
  .number({ error: "must be a whole number >= 1" })
  .int({ error: "must be a whole number >= 1" })
  .min(1, { error: "must be >= 1 (the release now serving is always kept)" })
  .max(LIMITS.keepReleases.max, { error: `must be <= ${LIMITS.keepReleases.max}` });

/** Per-app sizing bounds; the defaults come from the stack's fleet:deploy (rollout/plan.ts). */
export const MAX_WORKERS = LIMITS.workers.max;
export const MAX_TIMEOUT_SECONDS = LIMITS.timeout.max;
const wholeNumber = (min: number, max: number) =>
  z
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be from ${min} to ${max}` })
    .max(max, { error: `must be from ${min} to ${max}` });

const healthCheck = pattern(HEALTH_PATH_PATTERN, "a URL path starting with '/' (letters, digits, '.', '_', '~', '/', '-')");
const migrations = z.boolean({ error: "must be true or false" });
const seconds = (max: number) =>
  z
    .number({ error: `must be a whole number of seconds from 1 to ${max}` })
    .int({ error: `must be a whole number of seconds from 1 to ${max}` })
    .min(1, { error: `must be from 1 to ${max} seconds` })
    .max(max, { error: `must be from 1 to ${max} seconds` });
/** Limits of the migration connection (the defaults come from fleet:deploy). */
export const MIGRATION_LIMITS = {
  migrationLockTimeout: LIMITS.migrationLockTimeout.max,
  migrationStatementTimeout: LIMITS.migrationStatementTimeout.max,
  migrationSmallTableRows: LIMITS.migrationSmallTableRows.max,
} as const;
/** Rows: a table of at most this many may take a locking migration (index, unique, type change). */
export const migrationSmallTableRows = z
  .number({ error: `must be a whole number of rows from 0 to ${MIGRATION_LIMITS.migrationSmallTableRows}` })
  .int({ error: `must be a whole number of rows from 0 to ${MIGRATION_LIMITS.migrationSmallTableRows}` })
  .min(0, { error: `must be from 0 to ${MIGRATION_LIMITS.migrationSmallTableRows} rows` })
  .max(MIGRATION_LIMITS.migrationSmallTableRows, { error: `must be from 0 to ${MIGRATION_LIMITS.migrationSmallTableRows} rows` });
const { min: MIN_RETRIES, max: MAX_RETRIES } = LIMITS.migrationRetries;
const migrationRetries = z
  .number({ error: `must be a whole number from ${MIN_RETRIES} to ${MAX_RETRIES}` })
  .int({ error: `must be a whole number from ${MIN_RETRIES} to ${MAX_RETRIES}` })
  .min(MIN_RETRIES, { error: `must be from ${MIN_RETRIES} to ${MAX_RETRIES}` })
  .max(MAX_RETRIES, { error: `must be from ${MIN_RETRIES} to ${MAX_RETRIES}` });

const overrides = z.strictObject(
  Object.fromEntries(OVERRIDE_NAMES.map((o) => [o, z.boolean({ error: "must be true or false" }).optional()])) as Record<
    OverrideName,
    z.ZodOptional<z.ZodBoolean>
  >,
  { error: `must be a map of ${OVERRIDE_NAMES.join(", ")}: true or false` },
);
const deployChecks = z.enum(DEPLOY_CHECKS, { error: `must be ${DEPLOY_CHECKS.map((d) => JSON.stringify(d)).join(" or ")}` });

const shared = {
  migrations: migrations.optional(),
  healthCheck: healthCheck.optional(),
  keepReleases: keepReleases.optional(),
  env: envMap.optional(),
  overrides: overrides.optional(),
  deployChecks: deployChecks.optional(),
};

const defaultsSchema = z.strictObject(shared, { error: "must be a map" });

const appSchema = z.strictObject(
  {
    name: pattern(NAME_PATTERN, "lowercase letters, digits and '-', 3 to 32 long, matching ^[a-z][a-z0-9-]{1,30}[a-z0-9]$"),
    repo: pattern(REPO_PATTERN, "a GitHub repository as owner/name (letters, digits, '-' in the owner; '.', '_', '-' also in the name)"),
    domain: pattern(DOMAIN_PATTERN, "a lowercase host name such as polls.example.edu (no wildcard, no port, no scheme)"),
    settings: pattern(DOTTED_PATTERN, "a Python dotted module path such as mysite.settings, at most 200 characters"),
    wsgi: pattern(
      WSGI_PATTERN,
      "module:callable such as mysite.wsgi:application, or django (Django's own WSGI handler under the platform's settings, for a wsgi.py that sets its own DJANGO_SETTINGS_MODULE), at most 200 characters",
    ),
    tags: z.record(z.string(), tagValue, { error: "must be a map of stack: tag" }),
    secrets: z
      .array(pattern(ENV_NAME_PATTERN, "an environment name matching ^[A-Z_][A-Z0-9_]*$"), { error: "must be a list of names" })
      .max(MAX_LIST_ENTRIES, { error: `has more than ${MAX_LIST_ENTRIES} entries; allowed: at most ${MAX_LIST_ENTRIES}` })
      .optional(),
    acknowledgeMigrations: z
      .array(pattern(MIGRATION_PATTERN, "a Django migration as app_label.name, such as polls.0005_rename_text, at most 200 characters"), {
        error: "must be a list of migrations (app_label.name)",
      })
      .max(MAX_LIST_ENTRIES, {
        error: `has more than ${MAX_LIST_ENTRIES} entries (they go on the migration step's command line); allowed: at most ${MAX_LIST_ENTRIES}: drop the ones of releases every stack has passed`,
      })
      .optional(),
    migrationLockTimeout: seconds(MIGRATION_LIMITS.migrationLockTimeout).optional(),
    migrationStatementTimeout: seconds(MIGRATION_LIMITS.migrationStatementTimeout).optional(),
    migrationRetries: migrationRetries.optional(),
    migrationSmallTableRows: migrationSmallTableRows.optional(),
    port: wholeNumber(LIMITS.port.min, LIMITS.port.max).optional(),
    workers: wholeNumber(1, MAX_WORKERS).optional(),
    timeout: wholeNumber(1, MAX_TIMEOUT_SECONDS).optional(),
    maintenance: z.boolean({ error: "must be true or false" }).optional(),
    maintenanceMessage: pattern(
      MAINTENANCE_MESSAGE_PATTERN,
      "one line of 1 to 200 letters, digits, spaces and . , : ; ! ? ( ) ' / @ _ + -",
    ).optional(),
    processes: processesSchema.optional(),
    schedules: schedulesSchema.optional(),
    ...shared,
  },
  { error: "must be a map with name, repo, domain, settings, wsgi and tags" },
);

const catalogSchema = z.strictObject(
  {
    defaults: defaultsSchema.optional(),
    apps: z.array(appSchema, { error: "must be a list of apps" }),
  },
  { error: "must be a map with an `apps:` list" },
);

type RawCatalog = z.infer<typeof catalogSchema>;
type RawApp = z.infer<typeof appSchema>;

/** The parts of a (possibly invalid) catalog that pass their own schema, with their indexes. */
interface ValidParts {
  defaultsEnv?: Record<string, string>;
  apps: [number, RawApp][];
}

function validParts(raw: unknown): ValidParts {
  const obj = (raw ?? {}) as { defaults?: { env?: unknown }; apps?: unknown };
  const env = envMap.safeParse(obj.defaults?.env);
  const apps = Array.isArray(obj.apps) ? obj.apps : [];
  return {
    defaultsEnv: env.success ? env.data : undefined,
    apps: apps.flatMap((a, i): [number, RawApp][] => {
      const r = appSchema.safeParse(a);
      return r.success ? [[i, r.data]] : [];
    }),
  };
}

/** One app, with the defaults applied. */
export interface App {
  name: string;
  repo: string;
  domain: string;
  settings: string;
  wsgi: string;
  migrations: boolean;
  /** stack -> git tag (or "latest"); a stack without an entry does not run the app. */
  tags: Record<string, string>;
  env: Record<string, string>;
  secrets: string[];
  healthCheck: string;
  keepReleases: number;
  /** The port gunicorn listens on, on every app node. */
  port: number;
  /** Migrations the app's team accepts to run while old code serves (or to roll back past,
   *  losing what they removed): "label.name", as written in the release pull request. */
  acknowledgeMigrations: string[];
  /** Per-app migration limits; unset ones come from fleet:deploy. */
  migrationLockTimeout?: number;
  migrationStatementTimeout?: number;
  migrationRetries?: number;
  /** Rows up to which a table may take a locking migration; absent: fleet:deploy's. */
  migrationSmallTableRows?: number;
  /** gunicorn's worker processes per node; absent: the stack's fleet:deploy.gunicornWorkers. */
  workers?: number;
  /** Seconds a request may take before gunicorn restarts its worker; absent: fleet:deploy.gunicornTimeout. */
  timeout?: number;
  /** Which of the platform's settings the platform's settings module sets (all by default). */
  overrides: Overrides;
  deployChecks: DeployChecks;
  /** The edge answers the app's requests with its maintenance page (HTTP 503); the nodes keep running. */
  maintenance?: boolean;
  /** The maintenance page's own words (else a generic sentence). */
  maintenanceMessage?: string;
  /** Background processes on every app node, by name (config/processes.ts); absent: none. */
  processes?: Process[];
  /** Commands run on one node at each time of their cron (config/processes.ts). */
  schedules?: Schedule[];
}

/** An app as it runs on one stack: its tag for that stack picked out. */
export interface AppForStack extends App {
  tag: string;
}

export interface Catalog {
  apps: App[];
  /** Per app name, from the file: where its entry is (its `name:`) and whether it writes `port:`. */
  entries?: Record<string, CatalogEntry>;
  /** The file, as its messages name it. */
  file?: string;
}

export interface CatalogEntry {
  line: number;
  col: number;
  portWritten: boolean;
  /** Where each stack's tag is written (stack -> line and column), for messages about a tag. */
  tagAt?: Record<string, { line: number; col: number }>;
}

export interface CatalogError {
  file: string;
  line: number;
  col: number;
  /** "<app name or apps[index]>.<field>", "defaults.<field>" or "catalog.<key>". */
  where: string;
  message: string;
}

export interface ParseOptions {
  /** The stacks a `tags:` map may name (from the Pulumi.<stack>.yaml files); unknown names are typos. */
  knownStacks?: string[];
}

export const BUILTIN_DEFAULTS = { migrations: true, healthCheck: "/", keepReleases: 5, deployChecks: "warn" } as const;

export function formatError(e: CatalogError): string {
  return `${e.file}:${e.line}:${e.col}: ${e.where}: ${e.message}`;
}

/** Parses and validates a catalog. Either `catalog` is set and `errors` is empty, or the reverse. */
export function parseCatalog(text: string, file: string, options: ParseOptions = {}): { catalog?: Catalog; errors: CatalogError[] } {
  const lines = new LineCounter();
  const at = (offset: number, where: string, message: string): CatalogError => {
    const pos = lines.linePos(offset);
    return { file, line: pos.line, col: pos.col, where, message };
  };
  if (Buffer.byteLength(text, "utf8") > MAX_FILE_BYTES) {
    return { errors: [{ file, line: 1, col: 1, where: "catalog", message: `is larger than ${MAX_FILE_BYTES} bytes` }] };
  }
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false, strict: true, merge: false });
  // Nesting that exhausted the parser leaves dozens of errors in its wake: the cause alone says it.
  const overflow = doc.errors.filter((e) => /call stack/i.test(e.message)).slice(0, 1);
  const syntaxErrors = (overflow.length > 0 ? overflow : doc.errors).map((e) => at(e.pos[0], "catalog", yamlMessage(e.code, e.message)));
  if (syntaxErrors.length > 0) return { errors: syntaxErrors };
  const aliasError = checkAliases(doc, at);
  if (aliasError) return { errors: [aliasError] };

  const raw: unknown = doc.toJS({ maxAliasCount: MAX_ALIASES });
  const result = catalogSchema.safeParse(raw ?? null);
  const errors: CatalogError[] = [];
  if (!result.success) {
    for (const issue of result.error.issues) errors.push(issueToError(issue, doc, raw, at));
  }
  // Cross-app rules run over every app that is valid on its own, so one run reports all it can.
  errors.push(...semanticErrors(validParts(raw), raw, doc, options, at));
  if (errors.length > 0) return { errors: sortErrors(errors) };
  const data = result.data as RawCatalog;
  const entries = Object.fromEntries(
    data.apps.map((a, i): [string, CatalogEntry] => {
      const { line, col } = lines.linePos(offsetOf(doc, ["apps", i, "name"]));
      const tagAt = Object.fromEntries(Object.keys(a.tags).map((s) => [s, lines.linePos(offsetOf(doc, ["apps", i, "tags", s]))]));
      return [a.name, { line, col, portWritten: a.port !== undefined, tagAt }];
    }),
  );
  return { catalog: { ...applyDefaults(data), entries, file }, errors: [] };
}

/** Reads and validates a catalog file; errors are formatted lines. */
export function loadCatalogFile(path: string, options: ParseOptions = {}): { catalog?: Catalog; errors: string[] } {
  let text: string;
  try {
    text = fs.readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    return { errors: [`${path}:1:1: catalog: cannot be read (${code})`] };
  }
  const { catalog, errors } = parseCatalog(text, path, options);
  return { catalog, errors: errors.map(formatError) };
}

/** The apps that run on `stack`, each with its tag for that stack, in catalog order. */
export function appsForStack(catalog: Catalog, stack: string): AppForStack[] {
  return catalog.apps.filter((a) => a.tags[stack] !== undefined).map((a) => ({ ...a, tag: a.tags[stack] }));
}

export { defaultPort } from "./ports";

/** The ports of the apps that run on `stack`, and whether each entry writes its port. */
function servingPorts(catalog: Catalog, stack: string): AppPort[] {
  return appsForStack(catalog, stack).map((a) => ({
    name: a.name,
    port: a.port,
    written: catalog.entries?.[a.name]?.portWritten ?? false,
  }));
}

/**
 * Apps serving on `stack` in both catalogs whose port `next` would move without its entry saying
 * so (config/ports.ts): one line each, at the app's entry in `file`, with the fix. Moving a serving
 * app's port is disruptive, so the plan against a base catalog refuses it.
 */
export function portMoveErrors(base: Catalog, next: Catalog, file: string, stack: string): string[] {
  return portMoves(servingPorts(base, stack), servingPorts(next, stack)).map((m) => {
    const at = next.entries?.[m.app] ?? { line: 1, col: 1 };
    const why = m.wasWritten
      ? `its entry no longer writes "port: ${m.from}"`
      : "its port is derived, and an app before it in the catalog was added or removed";
    return formatError({
      file,
      line: at.line,
      col: at.col,
      where: `${m.app}.port`,
      message: `would move from ${m.from} to ${m.to} on ${stack}, where it serves (${why}); add "port: ${m.from}" to ${m.app}'s entry to keep it`,
    });
  });
}

function applyDefaults(raw: RawCatalog): Catalog {
  const d = raw.defaults ?? {};
  const ports = allocatePorts(raw.apps);
  return {
    apps: raw.apps.map((a, i) => ({
      name: a.name,
      repo: a.repo,
      domain: a.domain,
      settings: a.settings,
      wsgi: a.wsgi,
      migrations: a.migrations ?? d.migrations ?? BUILTIN_DEFAULTS.migrations,
      tags: { ...a.tags },
      env: { ...(d.env ?? {}), ...(a.env ?? {}) },
      secrets: [...(a.secrets ?? [])],
      healthCheck: a.healthCheck ?? d.healthCheck ?? BUILTIN_DEFAULTS.healthCheck,
      keepReleases: a.keepReleases ?? d.keepReleases ?? BUILTIN_DEFAULTS.keepReleases,
      port: ports[i],
      acknowledgeMigrations: [...(a.acknowledgeMigrations ?? [])],
      ...(a.migrationLockTimeout !== undefined ? { migrationLockTimeout: a.migrationLockTimeout } : {}),
      ...(a.migrationStatementTimeout !== undefined ? { migrationStatementTimeout: a.migrationStatementTimeout } : {}),
      ...(a.migrationRetries !== undefined ? { migrationRetries: a.migrationRetries } : {}),
      ...(a.migrationSmallTableRows !== undefined ? { migrationSmallTableRows: a.migrationSmallTableRows } : {}),
      ...(a.workers !== undefined ? { workers: a.workers } : {}),
      ...(a.timeout !== undefined ? { timeout: a.timeout } : {}),
      overrides: { ...ALL_OVERRIDES, ...d.overrides, ...a.overrides } as Overrides,
      deployChecks: a.deployChecks ?? d.deployChecks ?? BUILTIN_DEFAULTS.deployChecks,
      ...(a.maintenance ? { maintenance: true } : {}),
      ...(a.maintenanceMessage !== undefined ? { maintenanceMessage: a.maintenanceMessage } : {}),
      processes: processesOf(a.processes),
      schedules: schedulesOf(a.schedules),
    })),
  };
}

export type At = (offset: number, where: string, message: string) => CatalogError;
type Path = (string | number)[];

export function yamlMessage(code: string, message: string): string {
  if (code === "DUPLICATE_KEY") return "duplicate key: each key may appear once in a map";
  if (code === "MULTIPLE_DOCS") return "a second YAML document (after a `---` line); allowed: one document per file";
  // The parser recurses once per nesting level: thousands of `[` or `{` exhaust its stack.
  if (/call stack/i.test(message)) return `collections nested too deeply; allowed: at most ${MAX_DEPTH} levels`;
  return `invalid YAML: ${message.split("\n")[0]}`;
}

/** Collections nested deeper than MAX_DEPTH (no file of the fleet needs it; its readers recurse). */
function checkDepth(doc: Document, at: At, where: string): CatalogError | undefined {
  let found: CatalogError | undefined;
  visit(doc, {
    Collection(_key, node, path) {
      const depth = path.filter((p) => isCollection(p)).length + 1;
      if (depth > MAX_DEPTH && node.range) {
        found = at(node.range[0], where, `collections nested too deeply; allowed: at most ${MAX_DEPTH} levels`);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** Aliases are bounded so a "billion laughs" file is refused before it is expanded; so is nesting. */
export function checkAliases(doc: Document, at: At, where = "catalog"): CatalogError | undefined {
  const deep = checkDepth(doc, at, where);
  if (deep) return deep;
  let count = 0;
  let found: CatalogError | undefined;
  visit(doc, {
    Alias(_key, node) {
      count += 1;
      if (count > MAX_ALIASES && node.range) {
        found = at(node.range[0], where, `more than ${MAX_ALIASES} YAML aliases: refused as a possible alias bomb`);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (found) return found;
  try {
    doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch {
    let first = 0;
    visit(doc, {
      Alias(_key, node) {
        first = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    return at(first, where, "YAML aliases expand too much: refused as a possible alias bomb");
  }
  return undefined;
}

/** "polls.tags.alpha" for apps, "apps[3].domain" when the app has no valid name yet. */
function describePath(path: Path, raw: unknown): string {
  if (path[0] === "apps" && typeof path[1] === "number") {
    const app = (raw as { apps?: unknown[] })?.apps?.[path[1]] as { name?: unknown } | undefined;
    const label = typeof app?.name === "string" && NAME_PATTERN.test(app.name) ? app.name : `apps[${path[1]}]`;
    return [label, ...path.slice(2)].join(".") || label;
  }
  if (path[0] === "defaults") return ["defaults", ...path.slice(1)].join(".");
  return ["catalog", ...path].join(".");
}

/** The best source position for a path: the value's node, else the nearest parent that exists. */
function offsetOf(doc: Document, path: Path, preferKey = false): number {
  for (let n = path.length; n >= 0; n--) {
    const parentPath = path.slice(0, n - 1);
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (preferKey && n === path.length && n > 0) {
      const parent = n === 1 ? doc.contents : doc.getIn(parentPath, true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[n - 1]);
        if (pair && isNode(pair.key) && pair.key.range) return pair.key.range[0];
      }
    }
    if (isNode(node) && (node as YamlNode).range) return (node as YamlNode).range![0];
  }
  return 0;
}

function issueToError(issue: z.core.$ZodIssue, doc: Document, raw: unknown, at: At): CatalogError {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    const allowed = allowedKeys(path);
    const keyPath = [...path, key];
    return at(offsetOf(doc, keyPath, true), describePath(keyPath, raw), `unknown key; allowed keys: ${allowed.join(", ")}`);
  }
  if (issue.code === "invalid_key") {
    // A bad key inside a record (env names): point at the key itself.
    const inner = issue.issues[0];
    const keyName = findBadRecordKey(raw, path);
    const keyPath = keyName === undefined ? path : [...path, keyName];
    return at(offsetOf(doc, keyPath, true), describePath(keyPath, raw), inner?.message ?? issue.message);
  }
  return at(offsetOf(doc, path), describePath(path, raw), typeMessage(issue, doc, raw, path));
}

/** `tag: 1.0` is the float 1 in YAML: say so, with the text as written, rather than "expected string". */
function typeMessage(issue: z.core.$ZodIssue, doc: Document, raw: unknown, path: Path): string {
  if (issue.code !== "invalid_type") return issue.message;
  if (getIn(raw, path) === undefined) return "is required";
  const node = doc.getIn(path, true);
  if (issue.expected === "string" && isScalar(node) && node.value !== null && typeof node.value !== "string") {
    const written = String(node.source ?? node.value);
    return `must be a string; YAML reads ${written} as a ${typeof node.value}: quote it ("${written}")`;
  }
  return issue.message;
}

function allowedKeys(path: Path): string[] {
  if (path.length === 0) return Object.keys(catalogSchema.shape);
  if (path[path.length - 1] === "overrides") return [...OVERRIDE_NAMES];
  if (path[path.length - 2] === "processes") return ["command", "memoryMb", "stopSeconds"];
  if (path[path.length - 2] === "schedules") return ["command", "cron"];
  if (path[0] === "defaults") return Object.keys(defaultsSchema.shape);
  return Object.keys(appSchema.shape);
}

function findBadRecordKey(raw: unknown, path: Path): string | undefined {
  const rec = getIn(raw, path);
  const names = ["processes", "schedules"].includes(String(path[path.length - 1])) ? PROCESS_NAME_PATTERN : ENV_NAME_PATTERN;
  if (rec && typeof rec === "object") return Object.keys(rec).find((k) => !names.test(k));
  return undefined;
}

function getIn(raw: unknown, path: Path): unknown {
  let cur: unknown = raw;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** Rules across fields and apps that a per-field schema cannot say. */
function semanticErrors(data: ValidParts, raw: unknown, doc: Document, options: ParseOptions, at: At): CatalogError[] {
  const errors: CatalogError[] = [];
  const seen = {
    name: new Map<string, number>(),
    domain: new Map<string, number>(),
    port: new Map<string, number>(),
    identity: new Map<string, number>(),
    repo: new Map<string, number>(),
  };
  const stacks = options.knownStacks ? [...options.knownStacks].sort() : undefined;
  const report = (path: Path, message: string, onKey = false) =>
    errors.push(at(offsetOf(doc, path, onKey), describePath(path, raw), message));

  const checkEnv = (path: Path, env: Record<string, string> | undefined) => {
    for (const key of Object.keys(env ?? {})) {
      if (RESERVED_ENV.includes(key))
        report([...path, key], `is set by the platform and may not be overridden (reserved: ${RESERVED_ENV.join(", ")})`, true);
    }
  };
  checkEnv(["defaults", "env"], data.defaultsEnv);
  const names = new Map(data.apps.map(([i, app]) => [i, app.name]));

  for (const [i, app] of data.apps) {
    const unique = (field: "name" | "domain" | "port", value: string, what: string) => {
      const first = seen[field].get(value);
      if (first !== undefined)
        report(["apps", i, field], `${what} ${JSON.stringify(value)} is already used by apps[${first}] (${names.get(first)})`);
      else seen[field].set(value, i);
    };
    const duplicateName = seen.name.has(app.name);
    unique("name", app.name, "name");
    // Long names are shortened with a hash in their OS user, database and role (config/identity.ts).
    const identity = appIdentity(app.name).osUser;
    const sameIdentity = duplicateName ? undefined : seen.identity.get(identity);
    if (sameIdentity !== undefined)
      report(
        ["apps", i, "name"],
        `derives the same OS user and database (${identity}) as apps[${sameIdentity}] (${names.get(sameIdentity)}): change one name's first 18 characters`,
      );
    else seen.identity.set(identity, i);
    unique("domain", app.domain, "domain");
    // GitHub names are case-insensitive: two entries would declare the same branches, rulesets and deploy keys.
    const sameRepo = seen.repo.get(app.repo.toLowerCase());
    if (sameRepo !== undefined)
      report(
        ["apps", i, "repo"],
        `${JSON.stringify(app.repo)} is already the repository of apps[${sameRepo}] (${names.get(sameRepo)}) (GitHub names ignore case): both would declare its branches, rules and keys; allowed: one app per repository`,
      );
    else seen.repo.set(app.repo.toLowerCase(), i);
    // Written ports never move, so two equal ones cannot both hold; derived ones probe past each other (config/ports.ts).
    if (app.port !== undefined) unique("port", String(app.port), "port");
    checkEnv(["apps", i, "env"], app.env);
    checkTags(app.tags, ["apps", i, "tags"], stacks, report);
    const dup = (app.secrets ?? []).find((s, j, all) => all.indexOf(s) !== j);
    if (dup) report(["apps", i, "secrets"], `${dup} is listed twice`);
    const dupAck = (app.acknowledgeMigrations ?? []).find((m, j, all) => all.indexOf(m) !== j);
    if (dupAck) report(["apps", i, "acknowledgeMigrations"], `${dupAck} is listed twice`);
    for (const [j, s] of (app.secrets ?? []).entries()) {
      if (RESERVED_ENV.includes(s)) report(["apps", i, "secrets", j], `${s} is set by the platform and may not be a secret name`);
      if (app.env && s in app.env) report(["apps", i, "secrets", j], `${s} is also in env: a name is either a plain setting or a secret`);
    }
  }
  return errors;
}

function checkTags(
  tags: Record<string, string>,
  path: Path,
  stacks: string[] | undefined,
  report: (p: Path, m: string, onKey?: boolean) => void,
) {
  for (const stack of Object.keys(tags)) {
    if (!STACK_PATTERN.test(stack))
      report([...path, stack], `stack name ${JSON.stringify(stack)} is not allowed: use ^[a-z][a-z0-9-]*$`, true);
    else if (stacks && !stacks.includes(stack))
      report([...path, stack], `unknown stack ${JSON.stringify(stack)}; stacks: ${stacks.join(", ")}`, true);
  }
}

function sortErrors(errors: CatalogError[]): CatalogError[] {
  const seen = new Set<string>();
  return errors
    .filter((e) => {
      const key = formatError(e);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.line - b.line || a.col - b.col);
}

/** The JSON Schema of apps.yaml (for editors: apps.yaml's first line points at apps.schema.json). */
export function catalogJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(catalogSchema, { target: "draft-7", io: "input" }) as Record<string, unknown>;
  return {
    ...schema,
    $id: "https://example.edu/fleet/apps.schema.json",
    title: "Fleet app catalog (apps.yaml)",
    description: "Which Django app runs which git tag on which stack. Generated by `npm run schema`; do not edit.",
  };
}
