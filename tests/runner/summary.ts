// What tests/runner/run.ts adds up and decides, without running anything: totals, the report per
// phase and file, the order the end-to-end files start in, and how many run at once.

/** What one test file did. */
export interface FileCounts {
  file: string;
  passed: number;
  failed: number;
  pending: number;
  seconds: number;
}

/** One phase of the run (tsc, eslint, unit, program, services, e2e): its files, if it has tests. */
export interface PhaseReport {
  phase: string;
  ok: boolean;
  seconds: number;
  files: FileCounts[];
}

/** Tests passed and failed over the run. A phase that failed with no failed test (tsc, eslint, a
 *  test process that died before its summary) counts as one failure, so it cannot read as green. */
export function totals(phases: PhaseReport[]): { passed: number; failed: number; pending: number } {
  let passed = 0;
  let failed = 0;
  let pending = 0;
  for (const p of phases) {
    const failedTests = p.files.reduce((n, f) => n + f.failed, 0);
    passed += p.files.reduce((n, f) => n + f.passed, 0);
    pending += p.files.reduce((n, f) => n + f.pending, 0);
    failed += failedTests > 0 || p.ok ? failedTests : 1;
  }
  return { passed, failed, pending };
}

const seconds = (s: number) => `${s.toFixed(1)} s`;

/** The closing report: each phase's wall time, each file's counts and time (slowest first), then
 *  the totals alone on the last line (`N passed, N failed`), which CI reads. */
export function renderReport(phases: PhaseReport[], wallSeconds: number): string {
  const lines = ["", "Durations (wall time per phase; per file: its own time, slowest first):"];
  for (const p of phases) {
    lines.push(`  ${p.phase.padEnd(9)} ${seconds(p.seconds).padStart(9)}  ${p.ok ? "ok" : "FAILED"}`);
    for (const f of [...p.files].sort((a, b) => b.seconds - a.seconds)) {
      const counts = `${f.passed} passed${f.failed ? `, ${f.failed} failed` : ""}${f.pending ? `, ${f.pending} pending` : ""}`;
      lines.push(`    ${seconds(f.seconds).padStart(9)}  ${f.file}  (${counts})`);
    }
  }
  const t = totals(phases);
  lines.push(`  total     ${seconds(wallSeconds).padStart(9)}`);
  if (t.pending) lines.push(`${t.pending} pending`);
  lines.push(`${t.passed} passed, ${t.failed} failed`);
  return `${lines.join("\n")}\n`;
}

/**
 * The order to start the end-to-end files in, so that several running at once finish together:
 * the longest first (by the times of the last run on this machine, when known; else the largest
 * file first, the best guess a fresh clone has), ties by name.
 */
export function longestFirst(files: string[], lastSeconds: Record<string, number>, size: (file: string) => number): string[] {
  const weight = (f: string) => [lastSeconds[f] ?? Number.POSITIVE_INFINITY, size(f)];
  const known = files.every((f) => lastSeconds[f] !== undefined);
  return [...files].sort((a, b) => {
    const [ta, sa] = weight(a);
    const [tb, sb] = weight(b);
    if (known && ta !== tb) return tb - ta;
    if (!known && sa !== sb) return sb - sa;
    return a.localeCompare(b);
  });
}

/** Fewest GiB of memory per end-to-end file running at once (a test bed of two or three nodes
 *  with systemd, PostgreSQL, nginx and gunicorns, the test's own node process, the plan). */
export const E2E_GIB_PER_JOB = 4;

/**
 * How many end-to-end files run at once: `FLEET_E2E_JOBS` when set (1 runs them one by one),
 * else one more than the CPUs (the files mostly wait on nodes, loads and health checks), bounded
 * by memory. A bad value is an error naming the variable and what it takes.
 */
export function e2eJobs(setting: string | undefined, cpus: number, memGiB: number): number {
  if (setting !== undefined && setting !== "") {
    if (!/^[1-9][0-9]?$/.test(setting)) throw new Error(`FLEET_E2E_JOBS=${setting}: must be a number of e2e files to run at once, 1 to 99`);
    return Number(setting);
  }
  return Math.max(1, Math.min(cpus + 1, Math.floor(memGiB / E2E_GIB_PER_JOB)));
}
