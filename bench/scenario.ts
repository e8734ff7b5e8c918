// What a bench part checks before it prints a figure: that its scenario ran as intended (the
// load really sent requests, the release really serves on every node, the failure it waits for
// really happened). A figure from a scenario that did not happen would be a number about
// nothing: the part fails the bench with the reason instead. Pure, so tests/unit can prove them.
import type { ApplyResult } from "../testbed/executor";

/** A bench part whose scenario did not run as intended; the message is the reason. */
export class ScenarioError extends Error {}

/** Fewest requests a load must have sent for its failed count to mean anything: each of its
 *  4 loops sends several a second, and every scenario under load lasts seconds. */
export const MIN_LOAD_REQUESTS = 20;

export interface LoadCounts {
  requests: number;
  failed: number;
  failures: string[];
}

/** The load ran through the scenario: enough requests, and some of them answered. */
export function expectLoad(what: string, counts: LoadCounts): LoadCounts {
  if (counts.requests < MIN_LOAD_REQUESTS)
    throw new ScenarioError(
      `${what}: the load sent ${counts.requests} requests (fewer than ${MIN_LOAD_REQUESTS}): it did not run through the scenario`,
    );
  if (counts.failed >= counts.requests)
    throw new ScenarioError(
      `${what}: all ${counts.requests} requests of the load failed (e.g. ${counts.failures.slice(0, 2).join(" | ")}): nothing served, so there was no rollout to measure`,
    );
  return counts;
}

/** The run succeeded; else its first failure. */
export function expectOk(what: string, r: ApplyResult): ApplyResult {
  if (!r.ok) throw new ScenarioError(`${what} failed: ${r.error}`);
  return r;
}

/** The run failed, and for the reason the scenario needs (`cause`), not another one. */
export function expectFailure(what: string, r: ApplyResult, cause: RegExp): ApplyResult {
  if (r.ok) throw new ScenarioError(`${what}: the run succeeded, but the scenario needs it to fail with ${cause}`);
  if (!cause.test(r.error ?? "")) throw new ScenarioError(`${what}: the run failed, but not with ${cause}: ${r.error}`);
  return r;
}

/** Every node (name -> what it serves) serves `tag`. */
export function expectServing(what: string, served: Record<string, string>, tag: string): void {
  const wrong = Object.entries(served).filter(([, s]) => s !== tag);
  if (Object.keys(served).length === 0) throw new ScenarioError(`${what}: no node to check`);
  if (wrong.length > 0)
    throw new ScenarioError(
      `${what}: expected ${tag} on every node, but ${wrong.map(([n, s]) => `${n} serves ${s || "nothing"}`).join(", ")}`,
    );
}

/** Each step named `prefix`-something ran on `count` nodes and succeeded (e.g. the stage of a
 *  release whose migration fails later): its time is a real one. */
export function expectStepsRan(what: string, r: ApplyResult, prefix: string, count: number): void {
  const steps = r.ran.filter((x) => x.name.startsWith(prefix));
  const failed = steps.filter((x) => !x.ok);
  if (steps.length !== count || failed.length > 0) {
    throw new ScenarioError(
      `${what}: expected ${count} ${prefix}* steps to run and succeed, ${steps.length} ran${failed.length ? `, ${failed.map((x) => x.name).join(", ")} failed` : ""}`,
    );
  }
}

/** Each command run on the nodes (node -> exit code and stderr) exited 0. */
export function expectCommandsOk(what: string, runs: Record<string, { code: number; stderr: string }>): void {
  const failed = Object.entries(runs).filter(([, r]) => r.code !== 0);
  if (Object.keys(runs).length === 0) throw new ScenarioError(`${what}: ran on no node`);
  if (failed.length > 0) {
    throw new ScenarioError(
      `${what}: ${failed.map(([n, r]) => `on ${n} exit ${r.code}: ${r.stderr.trim().split("\n").slice(-1)[0]}`).join("; ")}`,
    );
  }
}

/** A condition the scenario needs, with the reason it names when it does not hold. */
export function expectThat(condition: boolean, reason: string): void {
  if (!condition) throw new ScenarioError(reason);
}

/** A figure's value: a finite number (never NaN from a measurement that did not happen) or text. */
export function figureValue(name: string, value: number | string): string {
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) throw new ScenarioError(`${name}: ${value} is not a measurement`);
  return String(Math.round(value * 1000) / 1000);
}
