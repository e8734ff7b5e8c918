// The runner's mocha reporter: mocha's spec output as before, and, when FLEET_TEST_SUMMARY names a
// file, what each test file did (passed, failed, pending, seconds) written there as JSON at the end,
// for tests/runner/run.ts to add up and print per file.
import * as fs from "fs";
import type { MochaOptions, Runnable, Runner, Suite } from "mocha";
import type { FileCounts } from "./summary";

// mocha's own reporters, as mocha itself loads them (CommonJS).
const { Spec } = require("mocha/lib/reporters/index.cjs") as { Spec: new (runner: Runner, options?: MochaOptions) => object };

/** The file a test or hook is written in (a hook's: its suite's). */
function fileOf(r: Runnable): string | undefined {
  let suite: Suite | undefined = r.parent;
  let file = r.file;
  while (!file && suite) {
    file = suite.file;
    suite = suite.parent;
  }
  return file;
}

class FileSummaryReporter {
  constructor(runner: Runner, options?: MochaOptions) {
    new Spec(runner, options);
    const out = process.env.FLEET_TEST_SUMMARY;
    if (!out) return;
    const files = new Map<string, FileCounts>();
    const of = (file: string | undefined): FileCounts => {
      const key = file ?? "(no file)";
      if (!files.has(key)) files.set(key, { file: key, passed: 0, failed: 0, pending: 0, seconds: 0 });
      return files.get(key)!;
    };
    const started = new Map<Suite, number>();
    // A file's time: from its top-level suites' start to their end (hooks included).
    runner.on("suite", (suite: Suite) => {
      if (suite.parent?.root) started.set(suite, Date.now());
    });
    runner.on("suite end", (suite: Suite) => {
      const t = started.get(suite);
      if (t !== undefined) of(suite.file).seconds += (Date.now() - t) / 1000;
    });
    runner.on("pass", (test: Runnable) => void (of(fileOf(test)).passed += 1));
    runner.on("pending", (test: Runnable) => void (of(fileOf(test)).pending += 1));
    runner.on("fail", (test: Runnable) => void (of(fileOf(test)).failed += 1));
    runner.once("end", () => fs.writeFileSync(out, JSON.stringify([...files.values()])));
  }
}

export = FileSummaryReporter;
