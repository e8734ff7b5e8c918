// The project's stack files (Pulumi.<stack>.yaml), read without the Pulumi CLI.
//
// The offline plan and check-apps need two things the CLI would otherwise provide: which stacks
// exist (so a typo in a `tags:` map is caught) and each stack's config values.
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

/** Stands in for a `secure:` value: without the CLI nothing can decrypt it. */
export const SECURE_PLACEHOLDER = "offline-plan-placeholder-secret";

export interface StackConfigFile {
  /** Flat config as the Pulumi language host passes it: "ns:key" -> string (objects as JSON). */
  values: Record<string, string>;
  /** Keys whose values were `secure:` (they stay secret in the program). */
  secretKeys: string[];
}

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

function isSecure(v: unknown): v is { secure: string } {
  return typeof v === "object" && v !== null && Object.keys(v).length === 1 && typeof (v as { secure?: unknown }).secure === "string";
}

/** Replaces `secure:` values (at any depth) by the placeholder; reports whether any were found. */
function stripSecure(v: unknown): { value: unknown; secret: boolean } {
  if (isSecure(v)) return { value: SECURE_PLACEHOLDER, secret: true };
  if (Array.isArray(v)) {
    const items = v.map(stripSecure);
    return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
  }
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v).map(([k, x]) => [k, stripSecure(x)] as const);
    return { value: Object.fromEntries(entries.map(([k, x]) => [k, x.value])), secret: entries.some(([, x]) => x.secret) };
  }
  return { value: v, secret: false };
}

export function readStackConfig(stack: string, dir: string = projectDir()): StackConfigFile {
  const file = path.join(dir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) {
    const stacks = knownStacks(dir);
    throw new Error(`${file}: no such stack file; stacks: ${stacks.join(", ") || "(none)"}`);
  }
  const doc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, raw] of Object.entries(doc.config ?? {})) {
    const { value, secret } = stripSecure(raw);
    values[key] = typeof value === "string" ? value : JSON.stringify(value);
    if (secret) secretKeys.push(key);
  }
  return { values, secretKeys };
}
