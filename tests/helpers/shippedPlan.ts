// The offline plan of the shipped project (its own Pulumi.<stack>.yaml and apps.yaml; no catalog
// or stack file of a test's own), computed once per test process: the program tests read the
// same few plans many times, and each is a process of its own that takes seconds.
import { Plan, PlanRequest, runPlan } from "../../offline/plan";

type ShippedRequest = Omit<PlanRequest, "appsFile" | "stackFile">;

const plans = new Map<string, Promise<Plan>>();

/** runPlan(request), memoized by the request and the environment the plan's process inherits (a
 *  test that points FLEET_PROJECT_DIR or a GitHub URL elsewhere gets a plan of its own). Each
 *  caller gets its own copy, so a test may change what it got. */
export async function shippedPlan(request: ShippedRequest): Promise<Plan> {
  const env = Object.entries(process.env).sort(([a], [b]) => a.localeCompare(b));
  const key = JSON.stringify([request, env]);
  if (!plans.has(key)) plans.set(key, runPlan(request));
  return structuredClone(await plans.get(key)!);
}
