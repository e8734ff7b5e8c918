// The program's configuration inside a running Pulumi program: the engine's config values (secrets
// decrypted), checked by the stack file reader with the positions of the stack file, and the
// catalog's apps for this stack. Every problem of both files stops the program at once, one line
// each; @pulumi/pulumi is required lazily so config/ stays usable without it.
import * as fs from "fs";
import * as path from "path";
import { AppForStack, loadCatalogFile } from "./catalog";
import { checkStack, decodeEngineConfig, parseStackFile, stackApps, StackSettings } from "./stackFile";
import { knownStacks, shownPath, tagRules } from "./stackFiles";

export interface ProgramConfig {
  settings: StackSettings;
  /** The apps this stack runs, with the tag each deploys. */
  apps: AppForStack[];
}

/** FLEET_STACK_FILE: the file the offline plan took the config from (`npm run plan -- --base-stack`). */
function stackFileOf(projectDir: string, stack: string): { shown: string; text?: string } {
  const given = process.env.FLEET_STACK_FILE;
  const full = given ? path.resolve(given) : path.join(projectDir, `Pulumi.${stack}.yaml`);
  return { shown: given ?? `Pulumi.${stack}.yaml`, text: fs.existsSync(full) ? fs.readFileSync(full, "utf8") : undefined };
}

export function loadProgramConfig(projectDir: string = process.cwd()): ProgramConfig {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
  const stack = pulumi.getStack();
  const values = decodeEngineConfig(pulumi.runtime.allConfig());
  const stacks = knownStacks(projectDir);
  const appsFile = typeof values["fleet:appsFile"] === "string" ? values["fleet:appsFile"] : "apps.yaml";
  const catalog = loadCatalogFile(shownPath(path.resolve(projectDir, appsFile), projectDir), { knownStacks: stacks });
  const { shown, text } = stackFileOf(projectDir, stack);
  const report = checkStack(parseStackFile(text, shown), { stack, knownStacks: stacks, catalog: catalog.catalog, now: new Date(), tagRules: tagRules(projectDir) }, values);
  const errors = [...catalog.errors, ...report.errors];
  // RunError: Pulumi prints the message alone, without a stack trace.
  if (errors.length > 0 || !report.settings || !catalog.catalog) throw new pulumi.RunError(errors.join("\n"));
  for (const warning of report.warnings) void pulumi.log.warn(warning);
  return { settings: report.settings, apps: stackApps(catalog.catalog, report.settings.infra) };
}

/** The stack file's settings alone (config/stackConfig.ts's loadStackConfig). */
export function loadStackSettings(projectDir: string = process.cwd()): StackSettings {
  return loadProgramConfig(projectDir).settings;
}
