// What the test runner (tests/runner/run.ts) adds up and decides: totals that cannot read green
// when a phase died, the closing report, the e2e files' start order and how many run at once.
import { strict as assert } from "assert";
import { e2eJobs, longestFirst, PhaseReport, renderReport, totals } from "../runner/summary";

const file = (name: string, passed: number, failed = 0, seconds = 1) => ({ file: name, passed, failed, pending: 0, seconds });

describe("test runner", () => {
  it("adds up tests over the phases; a phase that failed with no failed test counts as one failure", () => {
    const phases: PhaseReport[] = [
      { phase: "tsc", ok: true, seconds: 20, files: [] },
      { phase: "unit", ok: true, seconds: 30, files: [file("tests/unit/a.test.ts", 10), file("tests/unit/b.test.ts", 5)] },
      { phase: "e2e", ok: false, seconds: 600, files: [file("tests/e2e/x.test.ts", 3, 2)] },
    ];
    assert.deepEqual(totals(phases), { passed: 18, failed: 2, pending: 0 });
    assert.deepEqual(totals([{ phase: "eslint", ok: false, seconds: 5, files: [] }]), { passed: 0, failed: 1, pending: 0 });
    assert.deepEqual(totals([{ phase: "services", ok: false, seconds: 5, files: [file("tests/services/s.test.ts", 4)] }]), {
      passed: 4,
      failed: 1,
      pending: 0,
    });
  });

  it("reports each phase and file, slowest file first, and ends with `N passed, N failed` alone", () => {
    const text = renderReport(
      [
        {
          phase: "e2e",
          ok: false,
          seconds: 900,
          files: [file("tests/e2e/fast.test.ts", 3, 0, 60), file("tests/e2e/slow.test.ts", 9, 1, 600)],
        },
      ],
      950,
    );
    const lines = text.trimEnd().split("\n");
    assert.equal(lines[lines.length - 1], "12 passed, 1 failed");
    assert.match(text, /^ {2}e2e +900\.0 s {2}FAILED$/m);
    assert.ok(text.indexOf("slow.test.ts") < text.indexOf("fast.test.ts"));
    assert.match(text, /^ {6}600\.0 s {2}tests\/e2e\/slow\.test\.ts {2}\(9 passed, 1 failed\)$/m);
    assert.match(text, /^ {2}total +950\.0 s$/m);
  });

  it("starts the longest e2e files first: by the last run's times when every file has one, else by size", () => {
    const files = ["a.test.ts", "b.test.ts", "c.test.ts"];
    const size = (f: string) => ({ "a.test.ts": 100, "b.test.ts": 300, "c.test.ts": 200 })[f]!;
    assert.deepEqual(longestFirst(files, {}, size), ["b.test.ts", "c.test.ts", "a.test.ts"]);
    assert.deepEqual(longestFirst(files, { "a.test.ts": 500, "b.test.ts": 10, "c.test.ts": 90 }, size), [
      "a.test.ts",
      "c.test.ts",
      "b.test.ts",
    ]);
    // a new file (no time yet): sizes decide for all
    assert.deepEqual(longestFirst(files, { "a.test.ts": 500, "b.test.ts": 10 }, size), ["b.test.ts", "c.test.ts", "a.test.ts"]);
  });

  it("runs one more e2e file than the CPUs at once, bounded by memory; FLEET_E2E_JOBS decides when set", () => {
    assert.equal(e2eJobs(undefined, 2, 24), 3);
    assert.equal(e2eJobs("", 2, 6), 1);
    assert.equal(e2eJobs(undefined, 16, 24), 6);
    assert.equal(e2eJobs("1", 2, 24), 1);
    assert.throws(() => e2eJobs("0", 2, 24), /^Error: FLEET_E2E_JOBS=0: must be a number of e2e files to run at once, 1 to 99$/);
    assert.throws(() => e2eJobs("many", 2, 24), /FLEET_E2E_JOBS=many/);
  });
});
