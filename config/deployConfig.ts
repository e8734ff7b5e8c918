// fleet:deploy: how the rollout reaches the machines and the repositories (all optional).
//
// The schema only: the stack file reader (config/stackFile.ts) reports its problems with the
// file's line, and the rollout (rollout/plan.ts) takes the values it returns over its defaults.
import { z } from "zod";
import type { DeploySettings } from "../rollout/plan";
import { MAX_TIMEOUT_SECONDS, MAX_WORKERS, MIGRATION_LIMITS, migrationSmallTableRows } from "./catalog";
import { RULES, ruleRegExp } from "./patterns";

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

export const deploySchema = z.strictObject({
  gitUrlTemplate: z
    .string()
    .refine((t) => !hasCredential(t), { error: "carries a credential (a user:password or token before the host), which would be on every node's command lines and in the plan; allowed: no credential: the nodes clone with their deploy keys (git@host:{repo}.git)", abort: true })
    .refine(validGitUrlTemplate, "must be a git URL (git@host:, ssh://host/, https://host/ or file:///, the host starting with a letter or digit, at most 1024 characters) containing {repo} or {name}"),
  pipMode: z.enum(["index", "system"]),
  healthSeconds: whole(1, 600),
  gunicornWorkers: whole(1, MAX_WORKERS),
  gunicornTimeout: whole(1, MAX_TIMEOUT_SECONDS),
  workerMemoryMb: whole(16, 16384),
  migrationLockTimeout: whole(1, MIGRATION_LIMITS.migrationLockTimeout),
  migrationStatementTimeout: whole(1, MIGRATION_LIMITS.migrationStatementTimeout),
  migrationRetries: whole(0, 10),
  migrationSmallTableRows,
}).partial();

/** The settings a stack file gives; the rest are the rollout's defaults. Not the SSH user: cloud-init
 *  makes the machines' one deploy user (render/cloudInit.ts DEPLOY_USER), the only one that exists. */
export type DeployOverrides = Partial<Omit<DeploySettings, "dbEngine" | "sshUser">>;
