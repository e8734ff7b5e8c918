// Adapts the pure rules (./rules.ts) to @pulumi/policy. Kept apart from index.ts, which
// starts the pack's gRPC server on import, so the tests can drive these adapters directly.
// Every rule is mandatory: a violation fails the preview.
//
// adminCidrs (for ssh-only-from-admin-cidrs) come from the pack config when given
// (`--policy-pack-config`), else from the stack's own Pulumi.<stack>.yaml next to Pulumi.yaml.
import * as path from "path";
import { Policies, PolicyResource, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { checkStackFile, knownStacks } from "../config/stackFiles";
import { PolicyContext, PolicyRecord, RESOURCE_RULES, STACK_RULES } from "./rules";

const PROJECT_DIR = path.resolve(__dirname, "..");

/** urn:pulumi:<stack>::<project>::<type>::<name> */
export function stackOfUrn(urn: string): string {
  return urn.split("::")[0]?.replace(/^urn:pulumi:/, "") ?? "";
}

/**
 * The stack file's fleet:adminCidrs, read by the program's own reader (config/stackFile.ts): empty
 * when the file is missing or has any problem (then every SSH CIDR is reported; the program
 * itself refuses such a file).
 */
export function adminCidrsFromStackFile(stack: string, dir = PROJECT_DIR): string[] {
  if (!knownStacks(dir).includes(stack)) return [];
  return checkStackFile(stack, { dir }).settings?.infra.adminCidrs ?? [];
}

interface PackConfig {
  adminCidrs?: string[];
}

function context(urn: string, config: PackConfig): PolicyContext {
  const stack = stackOfUrn(urn);
  return { stack, adminCidrs: config.adminCidrs ?? adminCidrsFromStackFile(stack) };
}

function record(r: Pick<PolicyResource, "type" | "name" | "urn" | "props"> & { dependencies?: PolicyResource[] }): PolicyRecord {
  return { type: r.type, name: r.name, urn: r.urn, inputs: r.props, dependsOn: (r.dependencies ?? []).map((d) => d.urn) };
}

const configSchema = {
  properties: { adminCidrs: { type: "array" as const, items: { type: "string" as const } } },
};

export const resourcePolicies: ResourceValidationPolicy[] = RESOURCE_RULES.map((rule) => ({
  name: rule.name,
  description: rule.description,
  enforcementLevel: "mandatory",
  configSchema,
  validateResource: (args, report) => {
    const ctx = context(args.urn, args.getConfig<PackConfig>());
    for (const message of rule.check(record(args), ctx)) report(message);
  },
}));

export const stackPolicies: StackValidationPolicy[] = STACK_RULES.map((rule) => ({
  name: rule.name,
  description: rule.description,
  enforcementLevel: "mandatory",
  configSchema,
  validateStack: (args, report) => {
    if (args.resources.length === 0) return;
    const ctx = context(args.resources[0].urn, args.getConfig<PackConfig>());
    const records = args.resources.map(record);
    for (const v of rule.check(records, ctx)) {
      const resource = args.resources.find((r) => r.name === v.resource);
      report(v.message, resource?.urn);
    }
  },
}));

export function fleetPolicies(): Policies {
  return [...resourcePolicies, ...stackPolicies];
}
