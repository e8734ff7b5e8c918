// The plan's capacity check (rollout/capacity.ts): workers x per-worker memory against a node's memory.
import { strict as assert } from "assert";
import { AppForStack, appsForStack, parseCatalog } from "../../config/catalog";
import { checkCapacity, INSTANCE_MEMORY_MB } from "../../rollout/capacity";
import { DEFAULT_DEPLOY_SETTINGS } from "../../config/deployConfig";

/** An app as the catalog makes it (defaults applied), with `workers` when given. */
function app(name: string, workers?: number): AppForStack {
  const text = [
    `apps:`,
    `  - name: ${name}`,
    `    repo: uni-it/${name}`,
    `    domain: ${name}.example.edu`,
    "    settings: site.settings",
    "    wsgi: site.wsgi:application",
    ...(workers !== undefined ? [`    workers: ${workers}`] : []),
    "    tags: { alpha: v1 }",
    "",
  ].join("\n");
  const { catalog, errors } = parseCatalog(text, "apps.yaml");
  assert.deepEqual(errors, []);
  return appsForStack(catalog!, "alpha")[0];
}

const settings = { gunicornWorkers: 3, workerMemoryMb: 100 };
const check = (apps: AppForStack[], instanceType = "t3.small", s = settings) =>
  checkCapacity({ apps, settings: s, instanceType, stackFile: "Pulumi.alpha.yaml", appsFile: "apps.yaml" });

describe("capacity check", () => {
  it("passes silently when the workers fit, counting the stack's default for apps without `workers`", () => {
    // t3.small: 2048 MiB; 5 apps x 3 default workers + 5 = 20 workers x 100 MiB = 2000 MiB.
    assert.deepEqual(check([app("app-a"), app("app-b"), app("app-c"), app("app-d"), app("app-e", 5)]), { warnings: [] });
  });

  it("warns when they do not fit, naming the sum, the type's memory, the largest apps and both files", () => {
    const r = check([app("app-a", 12), app("app-b", 9), app("app-c")]);
    assert.equal(r.error, undefined);
    assert.deepEqual(r.warnings, [
      "Pulumi.alpha.yaml: fleet:nodes.instanceType: 24 gunicorn workers x 100 MiB (fleet:deploy.workerMemoryMb) = 2400 MiB on each app node, t3.small has 2048 MiB: the workers may not fit; lower `workers` in apps.yaml (most: app-a 12, app-b 9, app-c 3) or choose a larger fleet:nodes.instanceType in Pulumi.alpha.yaml",
    ]);
  });

  it("is an error, one line, when they need more than twice the memory; exactly twice is a warning", () => {
    const twice = check([app("app-a", 20), app("app-b", 20), app("app-c", 1)], "t3.small", { gunicornWorkers: 3, workerMemoryMb: 100 });
    assert.equal(
      twice.error,
      "Pulumi.alpha.yaml: fleet:nodes.instanceType: 41 gunicorn workers x 100 MiB (fleet:deploy.workerMemoryMb) = 4100 MiB on each app node, t3.small has 2048 MiB, more than twice over: lower `workers` in apps.yaml (most: app-a 20, app-b 20, app-c 1) or choose a larger fleet:nodes.instanceType in Pulumi.alpha.yaml",
    );
    assert.doesNotMatch(twice.error ?? "", /\n/);
    const atTwice = check([app("app-a", 16), app("app-b", 16)], "t3.small", { gunicornWorkers: 3, workerMemoryMb: 128 });
    assert.equal(atTwice.error, undefined);
    assert.equal(atTwice.warnings.length, 1);
  });

  it("uses the per-worker memory of fleet:deploy, and the shipped default when none is set", () => {
    assert.equal(check([app("app-a", 30)], "t3.small", { gunicornWorkers: 3, workerMemoryMb: 64 }).warnings.length, 0);
    assert.equal(check([app("app-a", 30)], "t3.small", { gunicornWorkers: 3, workerMemoryMb: 80 }).warnings.length, 1);
    assert.ok(DEFAULT_DEPLOY_SETTINGS.workerMemoryMb >= 16);
  });

  it("says so when the instance type's memory is unknown, and checks nothing else", () => {
    const r = check([app("app-a", 32), app("app-b", 32)], "x9.huge");
    assert.equal(r.error, undefined);
    assert.deepEqual(r.warnings, [
      "Pulumi.alpha.yaml: fleet:nodes.instanceType x9.huge: its memory is unknown to the capacity check, so the apps' workers are not checked against it (known types: rollout/capacity.ts)",
    ]);
  });

  it("knows the instance types the shipped stack files use; no apps, nothing to check", () => {
    for (const t of ["t3.small", "t3.medium"]) assert.ok(INSTANCE_MEMORY_MB[t] > 0, t);
    assert.deepEqual(check([], "x9.huge"), { warnings: [] });
  });
});
