// The program's settings inside a running Pulumi program, resolved once: the engine's config
// values (secrets decrypted), checked by the stack file reader with the positions of the stack
// file, and the catalog's apps for this stack. index.ts, the components and the tests take the
// one object this returns; nothing else reads Pulumi config or the environment for settings.
// Every problem of both files stops the program at once, one line each; @pulumi/pulumi is
// required lazily so config/ stays usable without it.
import * as fs from "fs";
import * as path from "path";
import { AppForStack, loadCatalogFile } from "./catalog";
import { GithubSettings } from "./githubConfig";
import { appsFileOf, checkStack, decodeEngineConfig, parseStackFile, stackApps, StackSettings } from "./stackFile";
import { knownStacks, shownPath, tagRules } from "./stackFiles";

/** Everything the program runs with: the stack's settings, its apps, and how it was asked to run. */
export interface FleetSettings extends StackSettings {
  stack: string;
  /** The stack file the settings came from, as messages name it. */
  stackFile: string;
  /** The apps this stack runs, with the tag each deploys. */
  apps: AppForStack[];
  /** Whether the program asks GitHub anything on this run: not in the offline plan (FLEET_GITHUB_OFFLINE=1). */
  githubOnline: boolean;
}

/** FLEET_STACK_FILE: the file the offline plan took the config from (`npm run plan -- --base-stack`). */
function stackFileOf(projectDir: string, stack: string): { shown: string; text?: string } {
  const given = process.env.FLEET_STACK_FILE;
  const full = given ? path.resolve(given) : path.join(projectDir, `Pulumi.${stack}.yaml`);
  return { shown: given ?? `Pulumi.${stack}.yaml`, text: fs.existsSync(full) ? fs.readFileSync(full, "utf8") : undefined };
}

/**
 * A recovery stack is made with --copy-config-from the stack it replaces, so it inherits
 * manageRepositories: true. Two stacks managing the same branches and rules would fight (and
 * creating branches that exist fails), so the repository settings stay with the old stack's state
 * until someone moves them on purpose (docs/github.md). Deploy keys are per stack and still made.
 */
function recoveryLeavesRepositoriesAlone(settings: StackSettings, warn: (message: string) => void): GithubSettings {
  const { infra, github } = settings;
  if (!infra.recovery || !github.manageRepositories) return github;
  warn(
    `fleet:github.manageRepositories is ignored on a recovery stack (it replaces ${infra.recovery.replaces}): branches, protection and tag rules stay as they are`,
  );
  return { ...github, manageRepositories: false };
}

/** The running program's settings (stack and config from the engine), or a RunError naming every problem. */
export function loadSettings(projectDir: string = process.cwd()): FleetSettings {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
  const stack = pulumi.getStack();
  const values = decodeEngineConfig(pulumi.runtime.allConfig());
  const stacks = knownStacks(projectDir);
  const catalog = loadCatalogFile(shownPath(path.resolve(projectDir, appsFileOf(values)), projectDir), { knownStacks: stacks });
  const { shown, text } = stackFileOf(projectDir, stack);
  const report = checkStack(
    parseStackFile(text, shown),
    { stack, knownStacks: stacks, catalog: catalog.catalog, now: new Date(), tagRules: tagRules(projectDir) },
    values,
  );
  const errors = [...catalog.errors, ...report.errors];
  // RunError: Pulumi prints the message alone, without a stack trace.
  if (errors.length > 0 || !report.settings || !catalog.catalog) throw new pulumi.RunError(errors.join("\n"));
  const warn = (message: string) => void pulumi.log.warn(message);
  report.warnings.forEach(warn);
  const github = recoveryLeavesRepositoriesAlone(report.settings, warn);
  return {
    ...report.settings,
    github,
    stack,
    stackFile: shown,
    apps: stackApps(catalog.catalog, report.settings.infra),
    githubOnline: process.env.FLEET_GITHUB_OFFLINE !== "1",
  };
}
