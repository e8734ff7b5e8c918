// `npm run plan -- --targets` as a function: the targets of a change from its two sides (catalog and
// stack file of the base and of this commit), planned offline. cli/plan.ts prints its answer; the
// generated-mutation test (tests/program/targetMutations.test.ts) holds it against the full diff.
//
// Complete by construction: both plans show every secret input as a fingerprint under one random
// key of this run (offline/recorder.ts), so a changed secret the program declares (a plain-text
// fleet:appSecrets value, a key file named after its certificate) is a changed input in the diff,
// and is targeted like any other; nothing prints a fingerprint. What the plan cannot see at all, a
// `secure:` value (a placeholder offline), is compared by its ciphertext.
import { randomBytes } from "crypto";
import { AppForStack, appsForStack, Catalog, loadCatalogFile } from "../config/catalog";
import { knownStacks, shownPath, stackAppsFile, stackCiphertexts } from "../config/stackFiles";
import { diffPlans, runPlan } from "./plan";
import { computeTargets, fullWithoutTheDiff, TargetContext, TargetDecision } from "./targets";

/** The two sides of a change on one stack. */
export interface TargetSides {
  stack: string;
  /** This commit's catalog (default: the stack's fleet:appsFile) and stack file (default: Pulumi.<stack>.yaml). */
  apps?: string;
  stackFile?: string;
  /** The base's; absent: the same as this commit's. */
  baseApps?: string;
  baseStack?: string;
  /** Files changed since the base (git diff --name-only), when known. */
  changedFiles?: string[];
}

/** Both catalogs, when both are valid (an invalid one is the plan's to report, with every problem). */
export interface Catalogs {
  base: Catalog;
  next: Catalog;
  nextFile: string;
}

export function loadCatalogs(sides: TargetSides): Catalogs | undefined {
  const nextFile = sides.apps ?? shownPath(stackAppsFile(sides.stack, undefined, sides.stackFile));
  const stacks = { knownStacks: knownStacks() };
  const next = loadCatalogFile(nextFile, stacks).catalog;
  const base = sides.baseApps ? loadCatalogFile(sides.baseApps, stacks).catalog : next;
  return base && next ? { base, next, nextFile } : undefined;
}

/** An app's entry as this stack sees it: the other stacks' tags are not this stack's change. */
function entryOnStack(app: AppForStack): string {
  return JSON.stringify({ ...app, tags: undefined });
}

/** The keys of either map whose values differ (present in one only included), sorted. */
function differingKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k)).sort();
}

function editedApps(base: AppForStack[], next: AppForStack[]): string[] {
  return differingKeys(new Map(base.map((a) => [a.name, entryOnStack(a)])), new Map(next.map((a) => [a.name, entryOnStack(a)])));
}

function changedSecrets(sides: TargetSides): string[] {
  const next = stackCiphertexts(sides.stack, undefined, sides.stackFile);
  return differingKeys(sides.baseStack ? stackCiphertexts(sides.stack, undefined, sides.baseStack) : next, next);
}

export function targetContext(sides: TargetSides, both: Catalogs): TargetContext {
  const baseApps = appsForStack(both.base, sides.stack);
  const nextApps = appsForStack(both.next, sides.stack);
  return {
    baseApps,
    nextApps,
    editedApps: editedApps(baseApps, nextApps),
    changedSecrets: changedSecrets(sides),
    changedFiles: sides.changedFiles,
  };
}

/** The targets of the change, or a full `up` and why, or nothing to do. */
export async function planTargets(sides: TargetSides, both: Catalogs): Promise<TargetDecision> {
  const context = targetContext(sides, both);
  const full = fullWithoutTheDiff(context);
  if (full) return { kind: "full", reason: full };
  const secretFingerprintKey = randomBytes(32).toString("hex");
  const [base, next] = await Promise.all([
    runPlan({
      stack: sides.stack,
      appsFile: sides.baseApps ?? sides.apps,
      stackFile: sides.baseStack ?? sides.stackFile,
      secretFingerprintKey,
    }),
    runPlan({ stack: sides.stack, appsFile: sides.apps, stackFile: sides.stackFile, secretFingerprintKey }),
  ]);
  return computeTargets({ ...context, base, next, changes: diffPlans(base, next) });
}
