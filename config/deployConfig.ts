// fleet:deploy: how the rollout reaches the machines and the repositories (all optional).
//
// The schema only: the stack file reader (config/stackFile.ts) reports its problems with the
// file's line, and the rollout (rollout/plan.ts) takes the values it returns over its defaults.
import { z } from "zod";
import type { DeploySettings } from "../rollout/plan";
import { MAX_TIMEOUT_SECONDS, MAX_WORKERS, MIGRATION_LIMITS, migrationSmallTableRows } from "./catalog";
import { RULES, ruleRegExp } from "./patterns";

const GIT_URL = ruleRegExp(RULES.gitUrl);
const SSH_USER = ruleRegExp(RULES.sshUser);

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
    .refine(validGitUrlTemplate, "must be a git URL (git@host:, ssh://, https:// or file:///) containing {repo} or {name}"),
  pipMode: z.enum(["index", "system"]),
  healthSeconds: whole(1, 600),
  gunicornWorkers: whole(1, MAX_WORKERS),
  gunicornTimeout: whole(1, MAX_TIMEOUT_SECONDS),
  workerMemoryMb: whole(16, 16384),
  migrationLockTimeout: whole(1, MIGRATION_LIMITS.migrationLockTimeout),
  migrationStatementTimeout: whole(1, MIGRATION_LIMITS.migrationStatementTimeout),
  migrationRetries: whole(0, 10),
  migrationSmallTableRows,
  sshUser: z.string().refine((v) => SSH_USER.test(v) && v !== "root", `must be a user name other than root (${SSH_USER.source})`),
}).partial();

/** The settings a stack file gives; the rest are the rollout's defaults. */
export type DeployOverrides = Partial<Omit<DeploySettings, "dbEngine">>;
