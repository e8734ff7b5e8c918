// Per-app sizing in the plan: `workers` and `timeout` reach prepare.sh (through install.sh), and `npm run plan` warns
// (or stops, with one line) when the stack's apps' workers do not fit in an app node's memory.
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ROOT = path.join(__dirname, "..", "..");

function plan(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", path.join(ROOT, "cli", "plan.ts"), ...args],
      { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A catalog of `count` apps on alpha, each with `workers` (and app-1 with a 120 s timeout). */
function catalog(count: number, workers: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-capacity-"));
  const file = path.join(dir, "apps.yaml");
  const apps = Array.from({ length: count }, (_, i) =>
    [
      `  - name: app-${i + 1}`,
      `    repo: uni-it/app-${i + 1}`,
      `    domain: app-${i + 1}.example.edu`,
      "    settings: site.settings",
      "    wsgi: site.wsgi:application",
      `    workers: ${workers}`,
      ...(i === 0 ? ["    timeout: 120"] : []),
      "    tags: { alpha: v1.0.0 }",
    ].join("\n"),
  );
  fs.writeFileSync(file, `apps:\n${apps.join("\n")}\n`);
  return file;
}

describe("plan: per-app sizing and the capacity check", function () {
  this.timeout(180000);

  it("passes each app's workers and timeout to prepare.sh; within the node's memory, no warning", async () => {
    const r = await plan(["--stack", "alpha", "--apps", catalog(2, 5), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { resources: { name: string; inputs: { create?: string } }[]; warnings?: string[] };
    const prepare = (app: string) => out.resources.find((x) => x.name === `${app}-install-node-1`)?.inputs.create ?? "";
    assert.match(prepare("app-1"), /\/install\.sh --app app_app-1 .* --wsgi site\.wsgi:application --workers 5 --timeout 120 /);
    assert.match(prepare("app-2"), /\/install\.sh --app app_app-2 .* --wsgi site\.wsgi:application --workers 5 --timeout 30 /);
    assert.deepEqual(
      (out.warnings ?? []).filter((w) => w.includes("instanceType")),
      [],
    );
  });

  it("warns in the printed plan when the workers do not fit in alpha's t3.small", async () => {
    // 2 apps x 20 workers x 64 MiB = 2560 MiB > 2048 MiB.
    const r = await plan(["--stack", "alpha", "--apps", catalog(2, 20)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^warning: Pulumi\.alpha\.yaml: fleet:nodes\.instanceType: 40 gunicorn workers x 64 MiB \(fleet:deploy\.workerMemoryMb\) = 2560 MiB on each app node, t3\.small has 2048 MiB: the workers may not fit; lower `workers` in \S+apps\.yaml \(most: app-1 20, app-2 20\) or choose a larger fleet:nodes\.instanceType in Pulumi\.alpha\.yaml$/m,
    );
  });

  it("stops with one line, and plans nothing, when they need more than twice its memory", async () => {
    // 3 apps x 32 workers x 64 MiB = 6144 MiB > 2 x 2048 MiB.
    const r = await plan(["--stack", "alpha", "--apps", catalog(3, 32)]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0],
      /Pulumi\.alpha\.yaml: fleet:nodes\.instanceType: 96 gunicorn workers x 64 MiB .* = 6144 MiB on each app node, t3\.small has 2048 MiB, more than twice over: lower `workers` in \S+apps\.yaml \(most: app-1 32, app-2 32, app-3 32\) or choose a larger fleet:nodes\.instanceType in Pulumi\.alpha\.yaml$/,
    );
  });
});
