// npm run plan -- --stack <stack> [--apps FILE] [--json] [--base-apps FILE] [--base-stack FILE]
//
// Shows what the Pulumi program would deploy, with no cloud account, credentials or Pulumi CLI:
// index.ts runs under runtime mocks. With --base-apps (another catalog) and/or --base-stack
// (another Pulumi.<stack>.yaml), also what changes against that base: the offline answer to
// "what will my pull request to apps.yaml or to a stack file do".
import { parseArgs } from "util";
import { knownStacks } from "../config/stackFiles";
import { diffPlans, PlanError, renderChanges, renderTree, runPlan } from "../offline/plan";

const USAGE = "usage: npm run plan -- --stack <stack> [--apps FILE] [--json] [--base-apps FILE] [--base-stack FILE]";

function die(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(message === USAGE ? 2 : 1);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        stack: { type: "string" },
        apps: { type: "string" },
        json: { type: "boolean", default: false },
        "base-apps": { type: "string" },
        "base-stack": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    die(`plan: ${(err as Error).message}\n${USAGE}`);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const stacks = knownStacks();
  if (!args.stack) die(`plan: --stack is required (stacks: ${stacks.join(", ")})\n${USAGE}`);
  if (!stacks.includes(args.stack)) die(`plan: unknown stack "${args.stack}"; stacks: ${stacks.join(", ")}`);

  const baseApps = args["base-apps"];
  const baseStack = args["base-stack"];
  const [plan, base] = await Promise.all([
    runPlan({ stack: args.stack, appsFile: args.apps }),
    baseApps || baseStack ? runPlan({ stack: args.stack, appsFile: baseApps ?? args.apps, stackFile: baseStack }) : Promise.resolve(undefined),
  ]);
  const changes = base ? diffPlans(base, plan) : undefined;
  if (args.json) {
    process.stdout.write(`${JSON.stringify(changes ? { ...plan, changes } : plan, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${renderTree(plan)}\n`);
  if (changes) process.stdout.write(`\nagainst ${[baseApps, baseStack].filter(Boolean).join(" and ")}:\n${renderChanges(changes)}\n`);
}

main().catch((err: unknown) => die(err instanceof PlanError ? err.message : `plan: ${(err as Error).message ?? String(err)}`));
