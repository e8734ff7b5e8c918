// Runs loadSettings the way the Pulumi program does (config from the engine, stack name from
// the runtime), in its own process because Pulumi's config and stack are process-global.
// Usage: loadConfigWorker.ts <stack> <JSON of "ns:key" -> value overrides>
import * as pulumi from "@pulumi/pulumi";
import { FleetMocks } from "../../offline/mocks";
import { recordUnderMocks } from "../../offline/recorder";
import { readStackConfig } from "../../config/stackFiles";
import { PROJECT_DIR } from "./infraHarness";

const [stack, overridesJson] = process.argv.slice(2);
const overrides = JSON.parse(overridesJson ?? "{}") as Record<string, unknown>;
const values: Record<string, string> = { ...readStackConfig(stack, PROJECT_DIR).values };
for (const [k, v] of Object.entries(overrides)) values[k] = typeof v === "string" ? v : JSON.stringify(v);
pulumi.runtime.setAllConfig(values, []);
recordUnderMocks((secretOutputs) => new FleetMocks({ region: "eu-west-1", addresses: {}, overrides: {}, secretOutputs }), "fleet", stack);

const { loadSettings } = require("../../config/load") as typeof import("../../config/load");
try {
  process.stdout.write(JSON.stringify(loadSettings(PROJECT_DIR).infra));
} catch (err) {
  const kind = pulumi.RunError.isInstance(err) ? "RunError" : (err as Error).name;
  process.stderr.write(`${kind}: ${(err as Error).message}`);
  // The parent test reads this failure (exit status and the one line) and asserts on it.
  process.exitCode = 1;
}
