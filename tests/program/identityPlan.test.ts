// Apps whose names are another app's name plus a suffix (`polls`, `polls-replica`, `polls-dr`)
// on the production stack, with replicated media: the real program's plan declares every
// resource once, and every bucket, user and database is each app's own.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { appIdentity } from "../../config/identity";
import { Plan, runPlan } from "../../offline/plan";

const APPS = ["polls", "polls-replica", "polls-dr", "polls-media", "polls-media-dr"];

function catalog(): string {
  return [
    "apps:",
    ...APPS.flatMap((name, i) => [
      `  - name: ${name}`,
      `    repo: uni-it/${name}`,
      `    domain: ${name}.example.edu`,
      "    settings: s.settings",
      "    wsgi: s.wsgi:application",
      `    port: ${8400 + i}`,
      "    tags: { production: v1 }",
    ]),
    "",
  ].join("\n");
}

describe("plan: names that extend another app's name", function () {
  this.timeout(600000);
  let plan: Plan;
  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-identity-plan-"));
    const file = path.join(dir, "apps.yaml");
    fs.writeFileSync(file, catalog());
    try {
      plan = await runPlan({ stack: "production", appsFile: file, revealSecrets: true, config: { "fleet:appSecrets": "{}" } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("declares every resource once (no URN twice)", () => {
    const urns = plan.resources.map((r) => r.urn);
    const twice = urns.filter((u, i) => urns.indexOf(u) !== i);
    assert.deepEqual(twice, []);
  });

  it("gives each app its own primary and replica bucket, tagged with that app", () => {
    const buckets = plan.resources.filter((r) => r.type === "aws:s3/bucket:Bucket");
    assert.equal(buckets.length, APPS.length * 2, buckets.map((b) => b.name).join(" "));
    const names = buckets.map((b) => String(b.inputs.bucket));
    assert.equal(new Set(names).size, names.length, names.join(" "));
    for (const b of buckets) {
      const app = String((b.inputs.tags as Record<string, string>).app);
      assert.ok(APPS.includes(app));
      assert.match(String(b.inputs.bucket), new RegExp(`-${app}-media(-dr)?$`));
    }
  });

  it("runs each app's scripts as its own user and database", () => {
    for (const app of APPS) {
      const { osUser, database } = appIdentity(app);
      const prepare = plan.resources.find((r) => r.name === `${app}-install-node-1`);
      assert.match(String(prepare?.inputs.create), new RegExp(`install\\.sh --app ${osUser} `));
      const db = plan.resources.find((r) => r.name === `${app}-database`);
      assert.match(String(db?.inputs.create), new RegExp(`database\\.sh postgres ${database} `));
    }
  });
});
