// The offline plan's data shapes (the JSON contract of `npm run plan -- --json`).

/** What every secret value prints as. */
export const SECRET_TEXT = "[secret]";

export interface PlanRequest {
  stack: string;
  /** The catalog to plan with (default: the stack config's appsFile, i.e. apps.yaml). */
  appsFile?: string;
  /** Extra config, "key" (project namespace) or "ns:key" -> string value. */
  config?: Record<string, string>;
  /** Resource logical name -> IP the mocked resource answers with. */
  addresses?: Record<string, string>;
  /** Resource logical name -> outputs merged over the fake ones. */
  overrides?: Record<string, Record<string, unknown>>;
  /** Tests that execute the planned commands need the real values; never the CLI. */
  revealSecrets?: boolean;
}

export interface PlanResource {
  urn: string;
  type: string;
  name: string;
  parent: string | null;
  dependsOn: string[];
  inputs: Record<string, unknown>;
}

export interface Plan {
  stack: string;
  resources: PlanResource[];
  outputs: Record<string, unknown>;
}

export type ChangeOp = "create" | "update" | "delete";

export interface PlanChange {
  urn: string;
  op: ChangeOp;
  /** Input names whose values differ (all inputs for create/delete). */
  keys: string[];
}
