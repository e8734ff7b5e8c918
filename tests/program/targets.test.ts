// The deploy workflow's target computation (offline/targets.ts) on real offline plans of the
// production stack (index.ts under runtime mocks): one app, several apps, a deleted app, an added
// app, a secret the diff cannot see, and infrastructure (a full up); and the CLI's output shape.
import { strict as assert } from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AppForStack, appsForStack, loadCatalogFile } from "../../config/catalog";
import { diffPlans, Plan, runPlan } from "../../offline/plan";
import { computeTargets, TargetContext, TargetDecision } from "../../offline/targets";

const ROOT = path.join(__dirname, "..", "..");
const STACK = "production";
const SHIPPED = fs.readFileSync(path.join(ROOT, "apps.yaml"), "utf8");
const STACK_FILE = fs.readFileSync(path.join(ROOT, `Pulumi.${STACK}.yaml`), "utf8");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-targets-"));

function edited(text: string, edits: [string, string][]): string {
  return edits.reduce((t, [from, to]) => {
    assert.ok(t.includes(from), `no ${JSON.stringify(from)}`);
    return t.replace(from, to);
  }, text);
}

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

/** The catalog without one app's entry. */
function without(app: string): string {
  const start = SHIPPED.indexOf(`  - name: ${app}\n`);
  const end = SHIPPED.indexOf("  - name: ", start + 1);
  return SHIPPED.slice(0, start) + (end < 0 ? "" : SHIPPED.slice(end));
}

const apps = (catalogFile: string): AppForStack[] => appsForStack(loadCatalogFile(catalogFile).catalog!, STACK);

/** The context the CLI gives: here only the catalogs differ unless a test says otherwise. */
function context(baseFile: string, nextFile: string, extra: Partial<TargetContext> = {}): TargetContext {
  const baseApps = apps(baseFile);
  const nextApps = apps(nextFile);
  const entry = (a: AppForStack) => JSON.stringify({ ...a, tags: undefined });
  const names = [...new Set([...baseApps, ...nextApps].map((a) => a.name))];
  const editedApps = names.filter((n) => {
    const b = baseApps.find((a) => a.name === n);
    const x = nextApps.find((a) => a.name === n);
    return !b || !x || entry(b) !== entry(x);
  });
  return { baseApps, nextApps, editedApps, changedSecrets: [], ...extra };
}

function targets(d: TargetDecision): string[] {
  assert.equal(d.kind, "targets", d.kind === "targets" ? "" : d.reason);
  return d.kind === "targets" ? d.urns : [];
}

const nameOf = (urn: string) => urn.split("::").pop()!;
/** The resources a plan has for an app, by the names the fixture gives them (its name, or its port's rules). */
function namedFor(plan: Plan, app: string, port: number): string[] {
  return plan.resources.map((r) => r.urn).filter((u) => new RegExp(`(^|-)${app}(-|_|$)|-app-${port}$`).test(nameOf(u)));
}

describe("deploy targets on real offline plans (production)", function () {
  this.timeout(600_000);
  const shippedFile = file("apps.yaml", SHIPPED);
  const port = (app: string) => apps(shippedFile).find((a) => a.name === app)!.port;
  let base: Plan;

  before(async () => {
    base = await runPlan({ stack: STACK, appsFile: shippedFile });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function decide(
    nextText: string,
    name: string,
    extra: Partial<TargetContext> = {},
  ): Promise<{ d: TargetDecision; next: Plan; changes: ReturnType<typeof diffPlans> }> {
    const nextFile = file(name, nextText);
    const next = await runPlan({ stack: STACK, appsFile: nextFile });
    const changes = diffPlans(base, next);
    return { d: computeTargets({ ...context(shippedFile, nextFile, extra), base, next, changes }), next, changes };
  }

  it("one tag bump: that app's resources, every changed one among them, nothing of another app or the sites", async () => {
    const { d, changes } = await decide(edited(SHIPPED, [["production: v1.3.2", "production: v1.3.3"]]), "one.yaml");
    const urns = targets(d);
    assert.ok(changes.length > 0);
    for (const c of changes) assert.ok(urns.includes(c.urn), c.urn);
    assert.deepEqual(urns, namedFor(base, "polls", port("polls")).sort());
    assert.ok(
      urns.some((u) => u.endsWith("fleet:app:AppDeployment::polls")) &&
        urns.some((u) => u.endsWith("fleet:app:AppDeployment$github:index/repositoryDeployKey:RepositoryDeployKey::polls-deploy-key")),
    );
    assert.ok(!urns.some((u) => /room-booking|library-catalogue|nginx/.test(u)));
    assert.ok(urns.length < base.resources.length / 3, `${urns.length} of ${base.resources.length}`);
  });

  it("several apps: each one's resources, and no third app's", async () => {
    const { d } = await decide(
      edited(SHIPPED, [
        ["production: v1.3.2", "production: v1.3.3"],
        ["production: v1.9.7", "production: v1.9.8"],
      ]),
      "two.yaml",
    );
    const urns = targets(d);
    assert.deepEqual(urns, [...namedFor(base, "polls", port("polls")), ...namedFor(base, "room-booking", port("room-booking"))].sort());
    assert.ok(!urns.some((u) => u.includes("library-catalogue")));
  });

  it("a deleted app: every resource it had is targeted (so the up deletes it), with the sites; no other app", async () => {
    const { d, next } = await decide(without("room-booking"), "deleted.yaml");
    const urns = targets(d);
    const had = namedFor(base, "room-booking", port("room-booking"));
    assert.ok(had.length > 20);
    const present = new Set(next.resources.map((r) => r.urn));
    for (const u of had) assert.ok(urns.includes(u) && !present.has(u), u);
    assert.ok(urns.includes(`urn:pulumi:${STACK}::fleet::fleet:infra:EdgeHost$command:remote:Command::nginx-config`));
    // every nginx host's server blocks (production has two); room-booking was uni-estates' one
    // repository, so that owner's organization rulesets and provider go with it
    assert.deepEqual(urns.filter((u) => !had.includes(u)).map(nameOf), [
      "nginx-config",
      "publish-access",
      "static-host-2-nginx-config",
      "static-host-2-publish-access",
      "github-uni-estates-protected-branches",
      "github-uni-estates-release-tags",
      "github-uni-estates",
    ]);
  });

  it("an added app: its new resources and the sites (its server block), nothing else", async () => {
    const { d, next } = await decide(
      `${SHIPPED}\n  - name: new-app\n    repo: uni-it/new-app\n    domain: new.example.edu\n    settings: n.settings\n    wsgi: n.wsgi:application\n    tags: { production: v1.0.0 }\n`,
      "added.yaml",
    );
    const urns = targets(d);
    const newPort = apps(path.join(dir, "added.yaml")).find((a) => a.name === "new-app")!.port;
    const created = namedFor(next, "new-app", newPort);
    // and uni-it's organization rulesets, which now name its repository too
    assert.deepEqual(urns.filter((u) => !created.includes(u)).map(nameOf), [
      "nginx-config",
      "publish-access",
      "static-host-2-nginx-config",
      "static-host-2-publish-access",
      "github-uni-it-protected-branches",
      "github-uni-it-release-tags",
    ]);
    assert.equal(urns.length, created.length + 6);
  });

  it("a changed app secret, which the plan cannot see: that app's resources whole", () => {
    const d = computeTargets({
      ...context(shippedFile, shippedFile, { changedSecrets: ["fleet:appSecrets.polls.SENTRY_DSN"] }),
      base,
      next: base,
      changes: [],
    });
    assert.deepEqual(targets(d), namedFor(base, "polls", port("polls")).sort());
  });

  it("nothing changed: none; only documentation changed: none; code changed or a secret of the infrastructure: full", () => {
    const same = { ...context(shippedFile, shippedFile), base, next: base, changes: [] };
    assert.equal(computeTargets(same).kind, "none");
    assert.equal(
      computeTargets({
        ...same,
        changedFiles: ["docs/rollout.md", "README.md", "tests/unit/ports.test.ts", ".github/workflows/deploy.yml"],
      }).kind,
      "none",
    );
    assert.deepEqual(computeTargets({ ...same, changedFiles: ["docs/rollout.md", "rollout/plan.ts"] }), {
      kind: "full",
      reason:
        "the program changed (rollout/plan.ts): the offline diff runs today's code on both sides and cannot see what a code change does",
    });
    assert.deepEqual(computeTargets({ ...same, changedSecrets: ["fleet:database.masterPassword"] }), {
      kind: "full",
      reason: "a secret of the infrastructure changed (fleet:database.masterPassword)",
    });
  });

  it("infrastructure (a larger node type in the stack file): a full up, naming what changed", async () => {
    const next = await runPlan({
      stack: STACK,
      appsFile: shippedFile,
      stackFile: file("bigger.yaml", edited(STACK_FILE, [["instanceType: t3.medium", "instanceType: t3.large"]])),
    });
    const d = computeTargets({ ...context(shippedFile, shippedFile), base, next, changes: diffPlans(base, next) });
    assert.equal(d.kind, "full");
    assert.match(
      d.kind === "full" ? d.reason : "",
      /^the infrastructure changed: update urn:pulumi:production::fleet::fleet:infra:AppNodes\$aws:ec2\/instance:Instance::node-1, /,
    );
  });

  it("an app on `latest` (which only a full up resolves): full", () => {
    const latest = file("latest.yaml", edited(SHIPPED, [["production: v1.3.2", "production: latest"]]));
    const d = computeTargets({ ...context(shippedFile, latest), base, next: base, changes: [] });
    assert.deepEqual(d, { kind: "full", reason: 'polls is on "latest", which only a full pulumi up resolves against GitHub' });
  });

  it("the CLI prints one `--target URN` a line, the same list; full: without planning when the program changed", async () => {
    const bumped = file("cli-one.yaml", edited(SHIPPED, [["production: v1.3.2", "production: v1.3.3"]]));
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          ["-r", "ts-node/register/transpile-only", path.join(ROOT, "cli", "plan.ts"), ...args],
          { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 },
          (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const out = await run(["--stack", STACK, "--apps", bumped, "--base-apps", shippedFile, "--targets"]);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(
      out.stdout.trimEnd().split("\n"),
      namedFor(base, "polls", port("polls"))
        .sort()
        .map((u) => `--target ${u}`),
    );
    const changed = file("changed-files", "apps.yaml\ncomponents/infra/network.ts\n");
    const full = await run(["--stack", STACK, "--apps", bumped, "--base-apps", shippedFile, "--changed-files", changed, "--targets"]);
    assert.deepEqual(
      [full.code, full.stdout],
      [
        0,
        "full: the program changed (components/infra/network.ts): the offline diff runs today's code on both sides and cannot see what a code change does\n",
      ],
    );
  });
});
