// Shared by the end-to-end tests of `npm run release` and `npm run tags`: run the real command in
// a child process (so the local GitHub stand-in in this process can answer it), and a temporary
// copy of the project's apps.yaml.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FakeGithub, FakeRepo } from "./githubFake";

export const ROOT = path.resolve(__dirname, "../..");

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs cli/<tool>.ts as `npm run <tool>` would, with extra environment. */
export function runTool(tool: "release" | "tags" | "plan" | "check-apps", args: string[], env: Record<string, string>): Promise<ToolRun> {
  const script = path.join(ROOT, "cli", `${tool}.ts`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", script, ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A temporary copy of apps.yaml: its path, its text, and how to remove it. */
export function tempCatalog(): { file: string; text: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-apps-"));
  const file = path.join(dir, "apps.yaml");
  fs.copyFileSync(path.join(ROOT, "apps.yaml"), file);
  return { file, text: fs.readFileSync(file, "utf8"), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** What one end-to-end test gets: a fresh GitHub stand-in, a catalog copy, the tool's environment. */
export interface TestBed {
  gh: FakeGithub;
  catalog: ReturnType<typeof tempCatalog>;
  env: Record<string, string>;
}

/**
 * Registers mocha hooks that give every test of the current suite its own bed: `repos` are
 * served (given the catalog's text), and `env` points the tools at the stand-in.
 */
export function useTestBed(
  token: string,
  repos: (catalogText: string) => Record<string, FakeRepo>,
  env: Record<string, string> = {},
): TestBed {
  const bed = {} as TestBed;
  beforeEach(async () => {
    bed.catalog = tempCatalog();
    bed.gh = new FakeGithub(token);
    for (const [name, repo] of Object.entries(repos(bed.catalog.text))) bed.gh.addRepo(name, repo);
    await bed.gh.start();
    bed.env = { GITHUB_API_URL: bed.gh.baseUrl, GITHUB_TOKEN: token, ...env };
  });
  afterEach(async () => {
    await bed.gh.stop();
    bed.catalog.remove();
  });
  return bed;
}
