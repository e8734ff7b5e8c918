// The offline plan's data shapes (the JSON contract of `npm run plan -- --json`).

/** What every secret value prints as. */
export const SECRET_TEXT = "[secret]";

export interface PlanRequest {
  stack: string;
  /** The catalog to plan with (default: the stack config's appsFile, i.e. apps.yaml). */
  appsFile?: string;
  /** The stack file to plan with instead of Pulumi.<stack>.yaml (`--base-stack`). */
  stackFile?: string;
  /** Extra config, "key" (project namespace) or "ns:key" -> string value. */
  config?: Record<string, string>;
  /** Resource logical name -> IP the mocked resource answers with. */
  addresses?: Record<string, string>;
  /** Resource logical name -> outputs merged over the fake ones. */
  overrides?: Record<string, Record<string, unknown>>;
  /** Tests that execute the planned commands need the real values; never the CLI. */
  revealSecrets?: boolean;
  /**
   * Show each secret as a keyed fingerprint instead of [secret] (`--targets`: the diff must see
   * a changed secret without anything printing it). A random key per run, in the request file
   * (mode 0600) only, so a fingerprint cannot be checked against a guess afterwards.
   */
  secretFingerprintKey?: string;
}

export interface PlanResource {
  urn: string;
  type: string;
  name: string;
  parent: string | null;
  dependsOn: string[];
  inputs: Record<string, unknown>;
  /** Remote commands and copies: where they run, `user@host[:port]` (and ` via user@host` through
   *  a bastion). Read out of the connection, which @pulumi/command keeps secret as a whole because
   *  it carries the key; the address is not secret, and a reviewer must see it. */
  runsOn?: string;
}

export interface Plan {
  stack: string;
  resources: PlanResource[];
  outputs: Record<string, unknown>;
  /** What the program warned about (pulumi.log.warn), e.g. an app left out of this run. */
  warnings?: string[];
}

/** What one plan cost its process (the worker's result file carries it beside the plan). */
export interface PlanUsage {
  maxRssMb: number;
  cpuSeconds: number;
}

/** The worker's result file. */
export interface PlanResult {
  plan: Plan;
  usage: PlanUsage;
}

export type ChangeOp = "create" | "update" | "delete";

export interface PlanChange {
  urn: string;
  op: ChangeOp;
  /** Input names whose values differ (all inputs for create/delete). */
  keys: string[];
}
