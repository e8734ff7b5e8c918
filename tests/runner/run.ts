// npm test: the whole check, fastest failures first: tsc, eslint and prettier (side by side), then the test
// phases unit -> program -> services -> e2e, each phase's files found by glob (a new file is
// picked up as it lands). The end-to-end files (root: real nodes) run several at once, each in
// its own mocha process on its own test-bed slot (testbed/cluster.ts), longest first; their
// output is printed whole as each one ends. At the end: every phase's and file's time, and the
// totals alone on the last line, `N passed, N failed`.
//
// npm run test:fast (`--fast`): no root and no nodes: tsc, eslint, unit, program, and the
// services files that do not say `Needs root` in their header. `npm test -- e2e` (or unit,
// program, services): the phases named, alone, without tsc, eslint and prettier.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { e2eJobs, FileCounts, longestFirst, PhaseReport, renderReport, totals } from "./summary";

const ROOT = path.resolve(__dirname, "..", "..");
const bin = (name: string) => path.join(ROOT, "node_modules", ".bin", name);
const REPORTER = path.join(__dirname, "reporter.ts");
/** A services file whose header says it needs root (real users, mounts, database servers). */
const NEEDS_ROOT = /^\/\/ Needs root\b/m;
/** The end-to-end files' times on this machine, from the last run: the next one starts the longest first. */
const LAST_TIMES = path.join(os.tmpdir(), "fleet-e2e-seconds.json");

interface Finished {
  code: number;
  output: string;
}

/** Runs a command in the repository; its output goes through (inherit) or is kept (capture), and
 *  then also, as it comes, to `log` (a long e2e file can be followed there before it ends). */
function run(cmd: string, args: string[], opts: { capture: boolean; env?: NodeJS.ProcessEnv; log?: string }): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: opts.capture ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    let output = "";
    const keep = (d: Buffer) => {
      output += d.toString();
      if (opts.log) fs.appendFileSync(opts.log, d);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("error", (err) => resolve({ code: 127, output: `${output}${cmd}: ${err.message}\n` }));
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });
}

/** The test files under tests/<dir>, by path. */
function testFiles(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = path.join(d, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith(".test.ts")) found.push(rel);
    }
  };
  walk(path.join("tests", dir));
  return found;
}

const now = () => Date.now();
const since = (t: number) => (now() - t) / 1000;

/** tsc and eslint side by side (each alone on a core), their output in that order. */
async function staticChecks(): Promise<PhaseReport[]> {
  const checks: [string, string, string[]][] = [
    ["tsc", bin("tsc"), ["--noEmit"]],
    ["eslint", bin("eslint"), ["."]],
    // One formatter for the whole tree (npm run format writes what this checks).
    ["prettier", bin("prettier"), ["--check", "--log-level", "warn", "**/*.{ts,mjs}"]],
  ];
  const started = now();
  const results = await Promise.all(
    checks.map(async ([phase, cmd, args]) => ({ phase, ...(await run(cmd, args, { capture: true })), seconds: since(started) })),
  );
  return results.map((r) => {
    process.stdout.write(`\n== ${r.phase}: ${r.code === 0 ? "ok" : "FAILED"} (${r.seconds.toFixed(1)} s)\n${r.output}`);
    return { phase: r.phase, ok: r.code === 0, seconds: r.seconds, files: [] };
  });
}

/** One mocha process over `files`; their counts from the reporter (none when it died first). */
async function mocha(files: string[], capture: boolean, log?: string): Promise<{ ok: boolean; output: string; files: FileCounts[] }> {
  const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-test-")), "summary.json");
  try {
    const r = await run(process.execPath, [bin("mocha"), "--reporter", REPORTER, ...files], {
      capture,
      log,
      env: { FLEET_TEST_SUMMARY: summary },
    });
    const counts = fs.existsSync(summary) ? (JSON.parse(fs.readFileSync(summary, "utf8")) as FileCounts[]) : [];
    for (const c of counts) c.file = path.relative(ROOT, c.file);
    return { ok: r.code === 0 && counts.length > 0, output: r.output, files: counts };
  } finally {
    fs.rmSync(path.dirname(summary), { recursive: true, force: true });
  }
}

/** A phase whose files run in one mocha process, its output as it comes. */
async function mochaPhase(phase: string, files: string[]): Promise<PhaseReport> {
  process.stdout.write(`\n== ${phase}: ${files.length} files\n`);
  const started = now();
  if (files.length === 0) return { phase, ok: true, seconds: 0, files: [] };
  const r = await mocha(files, false);
  return { phase, ok: r.ok, seconds: since(started), files: r.files };
}

function lastTimes(): Record<string, number> {
  try {
    return JSON.parse(fs.readFileSync(LAST_TIMES, "utf8")) as Record<string, number>;
  } catch {
    return {};
  }
}

/** The end-to-end files, `jobs` at once, each in its own mocha process (its own test-bed slot). */
async function e2ePhase(files: string[], jobs: number): Promise<PhaseReport> {
  const queue = longestFirst(files, lastTimes(), (f) => fs.statSync(path.join(ROOT, f)).size);
  process.stdout.write(`\n== e2e: ${files.length} files, ${jobs} at once (FLEET_E2E_JOBS), longest first\n`);
  const started = now();
  const counts: FileCounts[] = [];
  const logs = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-e2e-logs-"));
  let ok = true;
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      const log = path.join(logs, `${path.basename(file, ".test.ts")}.log`);
      process.stdout.write(`-- e2e: ${file} started (its output as it comes: ${log})\n`);
      const t = now();
      const r = await mocha([file], true, log);
      const seconds = since(t);
      process.stdout.write(`\n-- e2e: ${file} (${seconds.toFixed(1)} s)${r.ok ? "" : " FAILED"}\n${r.output}`);
      ok &&= r.ok;
      const mine = r.files.find((c) => c.file === file);
      // The file's time is its process's (ts-node's start and the test bed included).
      counts.push(mine ? { ...mine, seconds } : { file, passed: 0, failed: 1, pending: 0, seconds });
      counts.push(...r.files.filter((c) => c !== mine));
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));
  fs.writeFileSync(LAST_TIMES, JSON.stringify({ ...lastTimes(), ...Object.fromEntries(counts.map((c) => [c.file, c.seconds])) }));
  return { phase: "e2e", ok, seconds: since(started), files: counts };
}

const TEST_PHASES = ["unit", "program", "services", "e2e"];

/** `--fast`, and the test phases named (`npm test -- e2e`: that phase alone, no tsc or eslint). */
function parseArgs(args: string[]): { fast: boolean; only: string[] } {
  const only = args.filter((a) => a !== "--fast");
  const unknown = only.filter((a) => !TEST_PHASES.includes(a));
  if (unknown.length > 0)
    throw new Error(`unknown argument ${unknown[0]}: --fast, or test phases to run alone (${TEST_PHASES.join(", ")})`);
  return { fast: args.includes("--fast"), only };
}

async function main(): Promise<number> {
  const { fast, only } = parseArgs(process.argv.slice(2));
  const jobs = e2eJobs(process.env.FLEET_E2E_JOBS, os.cpus().length, os.totalmem() / 2 ** 30);
  const wanted = (phase: string) => (only.length > 0 ? only.includes(phase) : phase !== "e2e" || !fast);
  const started = now();
  const phases = only.length > 0 ? [] : await staticChecks();
  if (phases.every((p) => p.ok)) {
    if (wanted("unit")) phases.push(await mochaPhase("unit", testFiles("unit")));
    if (wanted("program")) phases.push(await mochaPhase("program", testFiles("program")));
    const services = testFiles("services");
    if (wanted("services"))
      phases.push(
        await mochaPhase(
          "services",
          fast ? services.filter((f) => !NEEDS_ROOT.test(fs.readFileSync(path.join(ROOT, f), "utf8"))) : services,
        ),
      );
    if (wanted("e2e")) phases.push(await e2ePhase(testFiles("e2e"), jobs));
  }
  process.stdout.write(renderReport(phases, since(started)));
  return totals(phases).failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`tests/runner/run.ts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
