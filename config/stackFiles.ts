// The project's stack files (Pulumi.<stack>.yaml) on disk, read without the Pulumi CLI.
//
// The offline plan, check-apps, tags and the policy pack need what the CLI would otherwise
// provide: which stacks exist (so a typo in a `tags:` map is caught), each stack's config values
// and the stack file checked (config/stackFile.ts is the one reader).
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { Catalog, loadCatalogFile } from "./catalog";
import { appsFileOf, checkStack, parseStackFile, StackReport, TagRules } from "./stackFile";
import { githubSchema } from "./githubConfig";

export { SECURE_PLACEHOLDER } from "./secure";

export interface StackConfigFile {
  /** Flat config as the Pulumi language host passes it: "ns:key" -> string (objects as JSON). */
  values: Record<string, string>;
  /** Keys whose values were `secure:` (they stay secret in the program). */
  secretKeys: string[];
}

/** A stack file that cannot be read or is not YAML: its message is the one line to show. */
export class StackFileError extends Error {}

export function projectDir(): string {
  // FLEET_PROJECT_DIR: a copy of the project with other stack files (tests of whole stacks
  // that are not shipped, such as a recovery stack).
  return process.env.FLEET_PROJECT_DIR ? path.resolve(process.env.FLEET_PROJECT_DIR) : path.resolve(__dirname, "..");
}

/** Stack names that have a Pulumi.<stack>.yaml beside Pulumi.yaml, sorted. */
export function knownStacks(dir: string = projectDir()): string[] {
  return fs
    .readdirSync(dir)
    .map((f) => /^Pulumi\.([a-z][a-z0-9-]*)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => s !== undefined)
    .sort();
}

export function projectName(dir: string = projectDir()): string {
  const doc = parse(fs.readFileSync(path.join(dir, "Pulumi.yaml"), "utf8")) as { name?: unknown };
  if (typeof doc?.name !== "string") throw new Error(`${path.join(dir, "Pulumi.yaml")}:1:1: name: is required`);
  return doc.name;
}

/** A file's name as messages show it: relative inside the project, as given outside it. */
export function shownPath(file: string, dir: string = projectDir()): string {
  const full = path.resolve(dir, file);
  return full.startsWith(dir + path.sep) ? path.relative(dir, full) : file;
}

/** The text of a stack file (the stack's own, or `file` instead), or one line saying why not. */
function stackFileText(stack: string, dir: string, file?: string): { shown: string; text: string } {
  const full = file ? path.resolve(file) : path.join(dir, `Pulumi.${stack}.yaml`);
  const shown = file ?? `Pulumi.${stack}.yaml`;
  if (!file && !fs.existsSync(full))
    throw new StackFileError(`${shown}: no such stack file; stacks: ${knownStacks(dir).join(", ") || "(none)"}`);
  try {
    return { shown, text: fs.readFileSync(full, "utf8") };
  } catch (err) {
    throw new StackFileError(`${shown}:1:1: stack file: cannot be read (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
}

/** The config values of a stack file as the engine would pass them (the offline plan's input). */
export function readStackConfig(stack: string, dir: string = projectDir(), file?: string): StackConfigFile {
  const { shown, text } = stackFileText(stack, dir, file);
  const doc = parseStackFile(text, shown);
  if (doc.errors.length > 0) throw new StackFileError(doc.errors.join("\n"));
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.values)) values[key] = typeof value === "string" ? value : JSON.stringify(value);
  const secretKeys = Object.keys(values).filter((k) =>
    [...doc.secretPaths].some((p) => p === k || p.startsWith(`${k}.`) || p.startsWith(`${k}[`)),
  );
  return { values, secretKeys };
}

/** The `secure:` values of a stack file (or `file` in its place): path -> ciphertext. */
export function stackCiphertexts(stack: string, dir: string = projectDir(), file?: string): Map<string, string> {
  const { shown, text } = stackFileText(stack, dir, file);
  const doc = parseStackFile(text, shown);
  if (doc.errors.length > 0) throw new StackFileError(doc.errors.join("\n"));
  return doc.ciphertexts;
}

/**
 * The tag rules the repositories have: those of the stack whose fleet:github says
 * manageRepositories (its releaseTagPattern, default v*). Undefined when no stack file says so,
 * or one cannot be read (its own check reports that).
 */
export function tagRules(dir: string = projectDir()): TagRules | undefined {
  for (const stack of knownStacks(dir)) {
    let value: unknown;
    try {
      const { shown, text } = stackFileText(stack, dir);
      value = parseStackFile(text, shown).values["fleet:github"];
    } catch (err) {
      if (err instanceof StackFileError) continue;
      throw err;
    }
    const github = githubSchema.safeParse(value ?? {});
    if (github.success && github.data.manageRepositories) return { stack, pattern: github.data.releaseTagPattern };
  }
  return undefined;
}

/** The catalog a stack plans with: its fleet:appsFile, else apps.yaml (a path inside `dir`). */
export function stackAppsFile(stack: string, dir: string = projectDir(), file?: string): string {
  return path.resolve(dir, appsFileOf(readStackConfig(stack, dir, file).values));
}

/**
 * Checks a stack file on disk (or `file` in its place) against its catalog (fleet:appsFile, else
 * apps.yaml), as the program would. Catalog problems are the catalog check's to report: an
 * invalid catalog only leaves out the checks that need it.
 */
export function checkStackFile(stack: string, options: { dir?: string; file?: string; catalog?: Catalog } = {}): StackReport {
  const dir = options.dir ?? projectDir();
  let doc;
  try {
    const { shown, text } = stackFileText(stack, dir, options.file);
    doc = parseStackFile(text, shown);
  } catch (err) {
    if (err instanceof StackFileError) return { errors: [err.message], warnings: [] };
    throw err;
  }
  const catalog = options.catalog ?? loadCatalogFile(path.resolve(dir, appsFileOf(doc.values)), { knownStacks: knownStacks(dir) }).catalog;
  return checkStack(doc, { stack, knownStacks: knownStacks(dir), catalog, tagRules: tagRules(dir) });
}
