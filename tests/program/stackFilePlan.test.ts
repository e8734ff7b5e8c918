// Stack files through the commands people run: `npm run plan` and `npm run check-apps` refuse a
// bad stack file with its lines (exit 1, no stack trace), and `--base-stack` shows what a change
// to a stack file does, as `--base-apps` does for the catalog.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Plan, PlanChange } from "../../offline/plan";
import { ROOT, runTool } from "../helpers/githubTools";
import { projectCopy } from "../helpers/projectCopy";

const ALPHA = fs.readFileSync(path.join(ROOT, "Pulumi.alpha.yaml"), "utf8");
const F = "Pulumi.alpha.yaml";
const dirs: string[] = [];

function edited(edits: [string, string][]): string {
  return edits.reduce((text, [from, to]) => {
    assert.ok(text.includes(from), `the alpha file has no ${JSON.stringify(from)}`);
    return text.replace(from, to);
  }, ALPHA);
}

/** A copy of the project whose alpha stack file is `text`. */
function projectWithAlpha(text: string): string {
  const dir = projectCopy({ [F]: text });
  dirs.push(dir);
  return dir;
}

function tmpFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-base-"));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, name), text);
  return path.join(dir, name);
}

const BAD = edited([
  ["fleet:protect: false", "fleet:protected: true"],
  ["cidr: 10.20.0.0/16", "cidr: 10.0.0.0/8"],
  [
    "    polls:\n      SENTRY_DSN:\n        secure: v1:placeholder-set-with-pulumi-config-set-secret\n",
    "    polls:\n      SENTRY_DSN: 42\n",
  ],
]);
const ALLOWED_TAIL = "fleet:protect, fleet:logs, fleet:github, fleet:deploy, fleet:appSecrets, fleet:tls (did you mean fleet:protect?)";

describe("stack files through npm run plan and check-apps", function () {
  this.timeout(600_000);
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it("a bad stack file: every problem one line, exit 1, no stack trace, from plan and check-apps alike", async () => {
    const env = { FLEET_PROJECT_DIR: projectWithAlpha(BAD) };
    const [plan, check] = await Promise.all([runTool("plan", ["--stack", "alpha"], env), runTool("check-apps", [], env)]);
    for (const run of [plan, check]) {
      assert.equal(run.code, 1, run.stderr);
      const lines = run.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 3, run.stderr);
      assert.ok(
        lines[0].startsWith(`${F}:5:3: fleet:protected: unknown key; allowed: aws:region, `) && lines[0].endsWith(ALLOWED_TAIL),
        lines[0],
      );
      assert.equal(
        lines[1],
        `${F}:7:11: fleet:network.cidr: is larger than AWS allows for a VPC (got "10.0.0.0/8"); allowed: /16 to /18 (AWS takes /16 at most; the six subnets need /18 at least)`,
      );
      assert.equal(
        lines[2],
        `${F}:39:19: fleet:appSecrets.polls.SENTRY_DSN: must be a string, not a number; allowed: the secret's text: pulumi config set --secret --path 'fleet:appSecrets.polls.SENTRY_DSN' VALUE`,
      );
      assert.doesNotMatch(run.stderr, /^\s+at |Error:|is not a function/m);
    }
    assert.equal(plan.stdout, "");
  });

  it("a YAML syntax error in the stack file is one line naming the file and position", async () => {
    const run = await runTool("plan", ["--stack", "alpha"], {
      FLEET_PROJECT_DIR: projectWithAlpha(edited([["    count: 1\n", "    count: [1\n"]])),
    });
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `${F}:15:5: stack file: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]\n`,
    );
  });

  it("--base-stack shows exactly what a stack file change does (text and --json)", async () => {
    const base = tmpFile(
      F,
      ALPHA.replace("instanceType: t3.small", "instanceType: t3.micro").replace("    - 192.0.2.0/24\n", "    - 198.51.100.0/24\n"),
    );
    const run = await runTool("plan", ["--stack", "alpha", "--base-stack", base, "--json"], {});
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Plan & { changes: PlanChange[] };
    const rule = (name: string) =>
      `urn:pulumi:alpha::fleet::fleet:infra:Network$aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule::${name}`;
    assert.deepEqual(out.changes, [
      { urn: "urn:pulumi:alpha::fleet::fleet:infra:AppNodes$aws:ec2/instance:Instance::node-1", op: "update", keys: ["instanceType"] },
      { urn: rule("app-node-in-ssh-admin-1"), op: "update", keys: ["cidrIpv4", "description"] },
      { urn: rule("static-host-in-ssh-admin-1"), op: "update", keys: ["cidrIpv4", "description"] },
    ]);
    const text = await runTool("plan", ["--stack", "alpha", "--base-stack", tmpFile(F, ALPHA)], {});
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\nagainst \S+Pulumi\.alpha\.yaml:\nno changes\n$/);
  });

  it("a bad base stack file is refused with its own name in each line", async () => {
    const base = tmpFile(F, edited([['engineVersion: "16"', 'engineVersion: "8.0"']]));
    const run = await runTool("plan", ["--stack", "alpha", "--base-stack", base], {});
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      `${base}:25:20: fleet:database.engineVersion: "8.0" is a MySQL version, not a PostgreSQL one (engine: postgres); allowed: a PostgreSQL major version 11 or newer, optionally with its minor (16, 16.4)\n`,
    );
  });
});
