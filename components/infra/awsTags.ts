// The tags every AWS resource carries. Pure, so the policy tests and the components agree.

export const MANAGED_BY = "fleet";

export interface TagScope {
  /** The app the resource belongs to, when it belongs to exactly one. */
  app?: string;
  /** What the resource is for (network, app-node, static-host, database, storage). */
  role?: string;
}

/** `stack`, `managed-by`, and `app`/`role` when given; `Name` so the console shows something useful. */
export function fleetTags(stack: string, name: string, scope: TagScope = {}): Record<string, string> {
  const tags: Record<string, string> = { Name: `fleet-${stack}-${name}`, stack, "managed-by": MANAGED_BY };
  if (scope.app) tags.app = scope.app;
  if (scope.role) tags.role = scope.role;
  return tags;
}
