// The offline plan: the real index.ts under runtime mocks, through the CLI and the library.
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { diffPlans, Plan, PlanResource, renderChanges, renderTree, SECRET_TEXT } from "../../offline/plan";
import { shippedPlan } from "../helpers/shippedPlan";

const ROOT = path.join(__dirname, "..", "..");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(script: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", path.join(ROOT, "cli", script), ...args],
      { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function tmpCatalog(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-test-"));
  const file = path.join(dir, "apps.yaml");
  fs.writeFileSync(file, text);
  return file;
}

const shipped = () => fs.readFileSync(path.join(ROOT, "apps.yaml"), "utf8");

function resource(urn: string, inputs: Record<string, unknown>): PlanResource {
  return { urn, type: "t", name: urn, parent: null, dependsOn: [], inputs };
}

describe("plan: diffs (pure)", () => {
  const base: Plan = {
    stack: "alpha",
    outputs: {},
    resources: [resource("a", { x: 1, y: [1] }), resource("b", { x: 1 }), resource("c", { x: 1 })],
  };
  const next: Plan = {
    stack: "alpha",
    outputs: {},
    resources: [resource("a", { x: 1, y: [2], z: 3 }), resource("b", { x: 1 }), resource("d", { q: 1 })],
  };

  it("reports create, update (with the changed keys) and delete, and nothing for unchanged", () => {
    assert.deepEqual(diffPlans(base, next), [
      { urn: "a", op: "update", keys: ["y", "z"] },
      { urn: "c", op: "delete", keys: ["x"] },
      { urn: "d", op: "create", keys: ["q"] },
    ]);
  });

  it("a plan against itself changes nothing", () => {
    assert.deepEqual(diffPlans(next, next), []);
    assert.equal(renderChanges([]), "no changes");
  });

  it("renders one line per change and a summary", () => {
    const text = renderChanges(diffPlans(base, next));
    assert.match(text, /^~ update a \(y, z\)$/m);
    assert.match(text, /^- delete c$/m);
    assert.match(text, /^\+ create d$/m);
    assert.match(text, /^changes: 1 to create, 1 to update, 1 to delete$/m);
  });
});

describe("plan: the command line", function () {
  this.timeout(120000);

  it("prints the resource tree for alpha and exits 0", async () => {
    const run = await cli("plan.ts", ["--stack", "alpha"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^stack alpha: \d+ resources$/m);
    assert.match(run.stdout, /polls/);
  });

  it("--json for production is valid JSON of the documented shape, identical across runs", async () => {
    const [a, b] = await Promise.all([
      cli("plan.ts", ["--stack", "production", "--json"]),
      cli("plan.ts", ["--stack", "production", "--json"]),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, b.stdout, "two runs must print byte-identical JSON");
    const plan = JSON.parse(a.stdout) as Plan;
    assert.equal(plan.stack, "production");
    assert.ok(Array.isArray(plan.resources));
    for (const r of plan.resources) {
      // The documented keys, plus runsOn on remote commands (where they run).
      const remote = r.type.startsWith("command:remote:");
      assert.deepEqual(Object.keys(r).sort(), ["dependsOn", "inputs", "name", "parent", ...(remote ? ["runsOn"] : []), "type", "urn"]);
      assert.match(r.urn, /^urn:pulumi:production::fleet::/);
      assert.ok(r.parent === null || typeof r.parent === "string");
      assert.ok(Array.isArray(r.dependsOn));
    }
  });

  it("a bad catalog gives one line per problem and exit 1, never a stack trace", async () => {
    const file = tmpCatalog(
      shipped().replace("alpha: v1.4.0", "alpha: 1.0").replace("domain: rooms.example.edu", "domain: '*.example.edu'"),
    );
    for (const run of [await cli("plan.ts", ["--stack", "alpha", "--apps", file]), await cli("check-apps.ts", [file])]) {
      assert.equal(run.code, 1);
      const lines = run.stderr.trim().split("\n");
      assert.equal(lines.length, 2, run.stderr);
      assert.match(lines[0], new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:14: polls\\.tags\\.alpha: must be a string`));
      assert.match(lines[1], /room-booking\.domain: "\*\.example\.edu" is not allowed/);
      assert.doesNotMatch(run.stderr, /^\s+at /m);
    }
  });

  it("check-apps accepts the shipped catalog and several files at once", async () => {
    const good = await cli("check-apps.ts", []);
    assert.deepEqual([good.code, good.stderr], [0, ""]);
    const bad = tmpCatalog("apps: []\nextra: 1\n");
    const both = await cli("check-apps.ts", ["apps.yaml", bad, "/nonexistent/apps.yaml"]);
    assert.equal(both.code, 1);
    assert.deepEqual(both.stderr.trim().split("\n"), [
      `${bad}:2:1: catalog.extra: unknown key; allowed keys: defaults, apps`,
      "/nonexistent/apps.yaml:1:1: catalog: cannot be read (ENOENT)",
    ]);
  });

  it("an unknown stack or flag is one line, exit non-zero", async () => {
    const stack = await cli("plan.ts", ["--stack", "prod"]);
    assert.equal(stack.code, 1);
    assert.equal(stack.stderr, 'plan: unknown stack "prod"; stacks: alpha, production\n');
    const flag = await cli("plan.ts", ["--stack", "alpha", "--colour"]);
    assert.notEqual(flag.code, 0);
    assert.match(flag.stderr, /^plan: Unknown option '--colour'/);
  });

  it("--base-apps reports exactly what a one-tag change does", async () => {
    const base = tmpCatalog(shipped().replace("alpha: v1.4.0", "alpha: v1.3.9"));
    const run = await cli("plan.ts", ["--stack", "alpha", "--base-apps", base, "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Plan & { changes: { urn: string; op: string; keys: string[] }[] };
    assert.ok(Array.isArray(out.changes));
    for (const c of out.changes) assert.match(c.urn, /polls/, `only the polls app changes: ${c.urn}`);
    const text = await cli("plan.ts", ["--stack", "alpha", "--base-apps", base]);
    assert.match(text.stdout, new RegExp(`against ${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:`));
  });
});

describe("plan: secrets", function () {
  this.timeout(120000);

  /** Every value that the masked plan shows as [secret], taken from the revealed plan. */
  function secretValues(masked: unknown, revealed: unknown, out: string[] = []): string[] {
    if (masked === SECRET_TEXT && revealed !== SECRET_TEXT) out.push(typeof revealed === "string" ? revealed : JSON.stringify(revealed));
    else if (masked && typeof masked === "object" && revealed && typeof revealed === "object") {
      for (const k of Object.keys(masked))
        secretValues((masked as Record<string, unknown>)[k], (revealed as Record<string, unknown>)[k], out);
    }
    return out;
  }

  it("no secret value appears anywhere in the printed plan (text or JSON)", async () => {
    for (const stack of ["alpha", "production"]) {
      const [masked, revealed] = await Promise.all([shippedPlan({ stack }), shippedPlan({ stack, revealSecrets: true })]);
      const secrets = secretValues(masked, revealed).filter((s) => s.length >= 8);
      // The program's secrets (master password, app passwords, SECRET_KEYs, deploy keys, stdin
      // environment files) are there to be looked for: an empty list would prove nothing.
      assert.ok(secrets.length >= 10, `${stack}: only ${secrets.length} secret values found`);
      const keys = revealed.resources.flatMap((r) => [r.inputs.stdin, r.inputs.password]).filter((v): v is string => typeof v === "string");
      assert.ok(
        keys.some((k) => k.includes("PRIVATE KEY")),
        `${stack}: no key reaches a command's stdin`,
      );
      const printed = [(await cli("plan.ts", ["--stack", stack])).stdout, (await cli("plan.ts", ["--stack", stack, "--json"])).stdout];
      for (const s of [...secrets, ...keys]) {
        for (const p of printed) assert.ok(!p.includes(s), `secret leaked into the ${stack} plan`);
      }
      for (const p of printed) assert.doesNotMatch(p, /PRIVATE KEY|placeholder-set-with/);
    }
  });
});

describe("plan: where commands run, and what was left out", function () {
  this.timeout(120000);

  it("shows each remote command's host (through the bastion in production) though its connection is secret", async () => {
    const plan = await shippedPlan({ stack: "production" });
    const remote = plan.resources.filter((r) => r.type.startsWith("command:remote:"));
    assert.ok(remote.length > 20);
    for (const r of remote) {
      assert.equal(r.inputs.connection, SECRET_TEXT, `${r.name}: the connection (with its key) stays secret`);
      assert.match(r.runsOn ?? "", /^deploy@\d+\.\d+\.\d+\.\d+( via deploy@\d+\.\d+\.\d+\.\d+)?$/, r.name);
    }
    const nodeStep = remote.find((r) => r.name === "polls-install-node-1");
    assert.match(nodeStep?.runsOn ?? "", / via deploy@/, "production nodes are reached through the nginx host");
    const text = renderTree(plan);
    assert.ok(text.includes(`on ${nodeStep?.runsOn}`));
  });

  it("warns, in text and JSON, about an app whose `latest` tag the offline plan cannot resolve", async () => {
    const plan = await shippedPlan({ stack: "alpha" });
    assert.deepEqual(
      plan.warnings?.filter((w) => w.includes("latest")).map((w) => w.split(":")[0]),
      ["library-catalogue"],
    );
    assert.ok(!plan.resources.some((r) => r.type === "fleet:app:AppDeployment" && r.name === "library-catalogue"));
    assert.match(renderTree(plan), /^warning: library-catalogue: tag "latest"/m);
  });
});
