// Ports through `npm run plan`: a production catalog of 200 generated apps that writes no port
// plans (one pair of security group rules per app, every port distinct), and a removal that would
// move a serving app's port is refused against the base catalog, one line with the fix.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { Plan } from "../../offline/plan";
import { runTool } from "../helpers/githubTools";
import { projectCopy, ROOT } from "../helpers/projectCopy";

const STACK_FILE = "Pulumi.production.yaml";

function generated(n: number, skip: string[] = []): string {
  const lines = ["apps:"];
  for (let i = 1; i <= n; i++) {
    const name = `app-${String(i).padStart(3, "0")}`;
    if (skip.includes(name)) continue;
    lines.push(
      `  - name: ${name}`,
      `    repo: uni-it/${name}`,
      `    domain: ${name}.example.edu`,
      "    settings: site.settings",
      "    wsgi: site.wsgi:application",
      "    tags:",
      "      production: v1.0.0",
    );
  }
  return `${lines.join("\n")}\n`;
}

describe("ports through npm run plan (production)", function () {
  // 200 apps: about 2.5 minutes on an idle 2-core machine today (issue 11: 139 s), far more on a busy one.
  this.timeout(1_800_000);
  // 200 apps x 3 workers x 64 MiB do not fit a t3.medium: a node type they fit, nothing else changed.
  const stackFile = fs.readFileSync(path.join(ROOT, STACK_FILE), "utf8").replace("instanceType: t3.medium", "instanceType: m5.4xlarge");
  const dir = projectCopy({ [STACK_FILE]: stackFile, "apps-200.yaml": generated(200), "apps-199.yaml": generated(200, ["app-019"]) });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("200 generated apps without port: plan, each on its own port", async () => {
    assert.ok(stackFile.includes("m5.4xlarge"));
    const run = await runTool("plan", ["--stack", "production", "--apps", path.join(dir, "apps-200.yaml"), "--json"], {
      FLEET_PROJECT_DIR: dir,
    });
    assert.equal(run.code, 0, run.stderr);
    const plan = JSON.parse(run.stdout) as Plan;
    // Each app's port as its first node's switch step serves it (switch.sh APP TAG ADDRESS PORT ...).
    const ports = plan.resources
      .filter((r) => /^app-\d{3}-switch-node-1$/.test(r.name))
      .map((r) => Number(/switch\.sh \S+ \S+ \S+ (\d+) /.exec(String(r.inputs.create))?.[1]));
    assert.equal(ports.length, 200);
    assert.equal(new Set(ports).size, 200);
    // The security groups open the port ranges, not a rule per app (at most 60 rules per group).
    const appRules = plan.resources.filter((r) => r.type.endsWith("SecurityGroupIngressRule") && r.name.startsWith("app-node-in-app-"));
    assert.deepEqual(appRules.map((r) => [r.name, r.inputs.fromPort, r.inputs.toPort]).sort(), [
      ["app-node-in-app-ports-10000-32750", 10000, 32750],
      ["app-node-in-app-ports-8100-8899", 8100, 8899],
    ]);
    for (const port of ports)
      assert.ok(
        appRules.some((r) => port >= Number(r.inputs.fromPort) && port <= Number(r.inputs.toPort)),
        `port ${port} is open`,
      );
  });

  it("removing app-019, past whose port app-114 probed, is refused before anything is planned", async () => {
    const run = await runTool(
      "plan",
      ["--stack", "production", "--apps", path.join(dir, "apps-199.yaml"), "--base-apps", path.join(dir, "apps-200.yaml")],
      { FLEET_PROJECT_DIR: dir },
    );
    assert.equal(run.code, 1);
    assert.equal(run.stdout, "");
    assert.match(
      run.stderr,
      /^\S+apps-199\.yaml:\d+:11: app-114\.port: would move from 1\d{4} to 8279 on production, where it serves \(its port is derived, and an app before it in the catalog was added or removed\); add "port: 1\d{4}" to app-114's entry to keep it\n$/,
    );
  });
});
