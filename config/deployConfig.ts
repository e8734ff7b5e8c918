// fleet:deploy: how the rollout reaches the machines and the repositories (all optional).
//
// The schema, the defaults and the rollout's settings as the stack resolves them: the stack file
// reader (config/stackFile.ts) reports the schema's problems with the file's line and applies the
// defaults here, once; the rollout (rollout/plan.ts) takes the result as it is.
import { z } from "zod";
import { DEPLOY_USER } from "../rollout/layout";
import { MAX_TIMEOUT_SECONDS, MAX_WORKERS, MIGRATION_LIMITS, migrationSmallTableRows } from "./catalog";
import { CHOICES, LIMITS, RULES, ruleRegExp } from "./patterns";

const GIT_URL = ruleRegExp(RULES.gitUrl);

/** user:password@ or token@ before an https host, user:password@ before any: a credential. */
const CREDENTIAL = /^[a-z]+:\/\/[^/@]*:[^/@]*@|^https:\/\/[^/@]+@/;
/** Whether a value carries a credential: its messages never show it. */
export const hasCredential = (v: unknown): boolean => typeof v === "string" && CREDENTIAL.test(v);

/** A template names the repository, and gives a git URL stage.sh accepts for every valid repository. */
function validGitUrlTemplate(template: string): boolean {
  const names = template.includes("{repo}") || template.includes("{name}");
  return names && GIT_URL.test(template.replace(/\{repo\}/g, "owner/app").replace(/\{name\}/g, "app"));
}

const whole = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
};

export const deploySchema = z
  .strictObject({
    gitUrlTemplate: z
      .string()
      .refine((t) => !hasCredential(t), {
        error:
          "carries a credential (a user:password or token before the host), which would be on every node's command lines and in the plan; allowed: no credential: the nodes clone with their deploy keys (git@host:{repo}.git)",
        abort: true,
      })
      .refine(
        validGitUrlTemplate,
        "must be a git URL (git@host:, ssh://host/, https://host/ or file:///, the host starting with a letter or digit, at most 1024 characters) containing {repo} or {name}",
      ),
    pipMode: z.enum(CHOICES.pipMode.values),
    healthSeconds: whole(LIMITS.healthSeconds.min, LIMITS.healthSeconds.max),
    gunicornWorkers: whole(1, MAX_WORKERS),
    gunicornTimeout: whole(1, MAX_TIMEOUT_SECONDS),
    workerMemoryMb: whole(16, 16384),
    migrationLockTimeout: whole(1, MIGRATION_LIMITS.migrationLockTimeout),
    migrationStatementTimeout: whole(1, MIGRATION_LIMITS.migrationStatementTimeout),
    migrationRetries: whole(LIMITS.migrationRetries.min, LIMITS.migrationRetries.max),
    migrationSmallTableRows,
  })
  .partial();

export type PipMode = (typeof CHOICES.pipMode.values)[number];
export type DbEngine = "postgres" | "mysql";

export interface DeploySettings {
  /** git URL of an app's repository; `{repo}` (owner/name) and `{name}` are replaced. */
  gitUrlTemplate: string;
  /** index: pip installs from the package index. system: a venv seeing the system
   *  site-packages and `pip --no-index` (machines without a package index, the e2e nodes). */
  pipMode: PipMode;
  /** How long a switched node may take to answer its health check. */
  healthSeconds: number;
  /** Workers per node of an app whose catalog entry sets no `workers`. */
  gunicornWorkers: number;
  /** gunicorn's request timeout (seconds) of an app whose entry sets no `timeout`. */
  gunicornTimeout: number;
  /** Memory one gunicorn worker is counted with in the plan's capacity check (MiB). */
  workerMemoryMb: number;
  dbEngine: DbEngine;
  /** The SSH user when a connection does not name one (never root). */
  sshUser: string;
  /** Seconds a migration waits for a table lock before giving up (PostgreSQL lock_timeout,
   *  MySQL lock_wait_timeout): while it waits, every query on that table queues behind it. */
  migrationLockTimeout: number;
  /** Seconds one migration statement may run (PostgreSQL statement_timeout, MariaDB max_statement_time). */
  migrationStatementTimeout: number;
  /** How often a migration whose lock was not granted is retried (back-off 1, 2, 4 ... s). */
  migrationRetries: number;
  /** A table of at most this many rows may take a locking migration (an index built without
   *  CONCURRENTLY, a unique constraint, a widening type change, NOT NULL on a column): its lock
   *  lasts milliseconds. Larger tables keep the refusal and its recipe. */
  migrationSmallTableRows: number;
}

export const DEFAULT_DEPLOY_SETTINGS: DeploySettings = {
  gitUrlTemplate: defaultGitUrlTemplate("github.com"),
  pipMode: "index",
  healthSeconds: 30,
  gunicornWorkers: 3,
  gunicornTimeout: 30,
  // Measured on the test bed: VmRSS of a gunicorn 20.1 sync worker of the e2e fixture's v2 (Django
  // 3.2.25, psycopg2, PostgreSQL 15) after 300 requests: 48 MiB (PSS 35 MiB; its master 24 MiB).
  // 64 leaves room for apps with more code and libraries than the fixture.
  workerMemoryMb: 64,
  dbEngine: "postgres",
  sshUser: DEPLOY_USER,
  migrationLockTimeout: 3,
  migrationStatementTimeout: 600,
  migrationRetries: 3,
  // Measured on the test bed's PostgreSQL 15 (npm run bench: migration_small_table_lock_ms): the
  // slowest locking operation, int -> bigint (a rewrite of the table and its index), holds its lock
  // about 0.1 s at 10,000 rows (CREATE INDEX 0.02 s, a unique constraint 0.015 s), 0.5 s at 100,000
  // and 6.6 s at 1,000,000: the requests queued behind it wait a tenth of a second at most.
  migrationSmallTableRows: 10000,
};

/** The settings a stack file gives; the rest are the rollout's defaults. Not the SSH user: cloud-init
 *  makes the machines' one deploy user (rollout/layout.ts DEPLOY_USER), the only one that exists. */
export type DeployOverrides = Partial<Omit<DeploySettings, "dbEngine" | "sshUser">>;

/** The git URL template that clones from `host` (the GitHub host the API lives on, by default). */
export function defaultGitUrlTemplate(host: string): string {
  return `git@${host}:{repo}.git`;
}

/** The rollout's settings of a stack: fleet:deploy over the defaults, cloning from the GitHub host
 *  (`cloneHost`) unless fleet:deploy names a template; the database engine is the stack's own. */
export function resolveDeploySettings(overrides: DeployOverrides, dbEngine: DbEngine, cloneHost: string): DeploySettings {
  return { ...DEFAULT_DEPLOY_SETTINGS, gitUrlTemplate: defaultGitUrlTemplate(cloneHost), ...overrides, dbEngine };
}
