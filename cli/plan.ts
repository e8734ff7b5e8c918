// npm run plan -- --stack <stack> [--apps FILE] [--json] [--base-apps FILE] [--base-stack FILE] [--targets [--changed-files FILE]]
//
// Shows what the Pulumi program would deploy, with no cloud account, credentials or Pulumi CLI:
// index.ts runs under runtime mocks. With --base-apps (another catalog) and/or --base-stack
// (another Pulumi.<stack>.yaml), also what changes against that base: the offline answer to
// "what will my pull request to apps.yaml or to a stack file do". Against a base catalog, a
// serving app whose derived port would move is refused (config/ports.ts).
// --targets prints instead what `pulumi up` must touch (offline/targets.ts): one `--target URN`
// per line (for `pulumi up --target-dependents`), or `full: <reason>`, or `none: <reason>`;
// --changed-files names a file listing the paths changed since the base (git diff --name-only).
import * as fs from "fs";
import { parseArgs } from "util";
import { portMoveErrors } from "../config/catalog";
import { knownStacks, StackFileError } from "../config/stackFiles";
import { diffPlans, PlanError, renderChanges, renderTree, runPlan } from "../offline/plan";
import { loadCatalogs, planTargets, TargetSides } from "../offline/targetPlan";
import { renderTargets } from "../offline/targets";

const USAGE =
  "usage: npm run plan -- --stack <stack> [--apps FILE] [--json] [--base-apps FILE] [--base-stack FILE] [--targets [--changed-files FILE]]";

function die(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(message === USAGE ? 2 : 1);
}

interface Args {
  stack: string;
  apps?: string;
  json: boolean;
  baseApps?: string;
  baseStack?: string;
  targets: boolean;
  changedFiles?: string;
}

function parse(): Args | undefined {
  let values;
  try {
    values = parseArgs({
      options: {
        stack: { type: "string" },
        apps: { type: "string" },
        json: { type: "boolean", default: false },
        "base-apps": { type: "string" },
        "base-stack": { type: "string" },
        targets: { type: "boolean", default: false },
        "changed-files": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    die(`plan: ${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) return undefined;
  const stacks = knownStacks();
  if (!values.stack) die(`plan: --stack is required (stacks: ${stacks.join(", ")})\n${USAGE}`);
  if (!stacks.includes(values.stack)) die(`plan: unknown stack "${values.stack}"; stacks: ${stacks.join(", ")}`);
  const args: Args = {
    stack: values.stack,
    apps: values.apps,
    json: values.json,
    baseApps: values["base-apps"],
    baseStack: values["base-stack"],
    targets: values.targets,
    changedFiles: values["changed-files"],
  };
  if (args.targets && !args.baseApps && !args.baseStack)
    die(`plan: --targets needs a base: --base-apps FILE and/or --base-stack FILE\n${USAGE}`);
  if (args.targets && args.json) die(`plan: --targets and --json are two different outputs: give one\n${USAGE}`);
  if (args.changedFiles && !args.targets) die(`plan: --changed-files is read by --targets only\n${USAGE}`);
  return args;
}

function readChangedFiles(file: string): string[] {
  try {
    return fs
      .readFileSync(file, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
  } catch (err) {
    die(`plan: --changed-files ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
}

function sidesOf(args: Args): TargetSides {
  return {
    stack: args.stack,
    apps: args.apps,
    baseApps: args.baseApps,
    baseStack: args.baseStack,
    changedFiles: args.changedFiles ? readChangedFiles(args.changedFiles) : undefined,
  };
}

async function main(): Promise<void> {
  const args = parse();
  if (!args) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sides = sidesOf(args);
  const both = args.baseApps || args.targets ? loadCatalogs(sides) : undefined;
  if (both && args.baseApps) {
    const moves = portMoveErrors(both.base, both.next, both.nextFile, args.stack);
    if (moves.length > 0) die(moves.join("\n"));
  }
  if (args.targets && both) {
    process.stdout.write(`${renderTargets(await planTargets(sides, both))}\n`);
    return;
  }
  const withBase = Boolean(args.baseApps || args.baseStack);
  const [plan, base] = await Promise.all([
    runPlan({ stack: args.stack, appsFile: args.apps }),
    withBase ? runPlan({ stack: args.stack, appsFile: args.baseApps ?? args.apps, stackFile: args.baseStack }) : Promise.resolve(undefined),
  ]);
  const changes = base ? diffPlans(base, plan) : undefined;
  if (args.json) {
    process.stdout.write(`${JSON.stringify(changes ? { ...plan, changes } : plan, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${renderTree(plan)}\n`);
  if (changes)
    process.stdout.write(`\nagainst ${[args.baseApps, args.baseStack].filter(Boolean).join(" and ")}:\n${renderChanges(changes)}\n`);
}

main().catch((err: unknown) =>
  die(err instanceof PlanError || err instanceof StackFileError ? err.message : `plan: ${(err as Error).message ?? String(err)}`),
);
