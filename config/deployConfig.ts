// fleet:deploy: how the rollout reaches the machines and the repositories (all optional).
//
// The schema only: the stack file reader (config/stackFile.ts) reports its problems with the
// file's line, and the rollout (rollout/plan.ts) takes the values it returns over its defaults.
import { z } from "zod";
import type { DeploySettings } from "../rollout/plan";

const GIT_URL = /^(git@[A-Za-z0-9.-]+:|ssh:\/\/|https:\/\/|file:\/\/\/)[A-Za-z0-9._/@:+{}-]+$/;
const SSH_USER = /^[a-z_][a-z0-9_-]{0,31}$/;

const whole = (min: number, max: number) => {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
};

export const deploySchema = z.strictObject({
  gitUrlTemplate: z
    .string()
    .refine((v) => GIT_URL.test(v) && (v.includes("{repo}") || v.includes("{name}")), "must be a git URL (git@host:, ssh://, https:// or file:///) containing {repo} or {name}"),
  pipMode: z.enum(["index", "system"]),
  healthSeconds: whole(1, 600),
  gunicornWorkers: whole(1, 32),
  sshUser: z.string().refine((v) => SSH_USER.test(v) && v !== "root", "must be a user name other than root (^[a-z_][a-z0-9_-]{0,31}$)"),
}).partial();

/** The settings a stack file gives; the rest are the rollout's defaults. */
export type DeployOverrides = Partial<Omit<DeploySettings, "dbEngine">>;
