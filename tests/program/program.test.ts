// The whole program (index.ts) as the offline plan runs it: how the parts are wired together.
// The components have their own tests; these check what only the wiring decides: which tags a
// recovery stack deploys, that repository settings stay with one stack, that each app clones
// with its own deploy key, and where GitHub Enterprise users' nodes clone from.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDocument } from "yaml";
import { Plan, PlanResource, runPlan } from "../../offline/plan";
import { shippedPlan } from "../helpers/shippedPlan";
import { FakeGithub, META } from "../helpers/githubFake";
import { issue, makeCa, removeCa, TestCa } from "../helpers/certificates";
import { GIT_ACCESS_MARKER } from "../../config/patterns";

const ROOT = path.resolve(__dirname, "../..");
const DEPLOYMENT = "fleet:app:AppDeployment";

function byName(plan: Plan, name: string): PlanResource {
  const r = plan.resources.find((x) => x.name === name);
  assert.ok(r, `${name} is not in the ${plan.stack} plan`);
  return r;
}

/**
 * A copy of the project with one more stack file, `Pulumi.<stack>.yaml`, made from production's
 * with `edit` applied (a recovery stack exists only in the account that needs it, not in the repo),
 * or production's own file edited.
 */
function projectWithStack(stack: string, edit: (config: Record<string, unknown>) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-project-"));
  // index.ts is copied (its __dirname is the project); everything else is the real thing.
  fs.copyFileSync(path.join(ROOT, "index.ts"), path.join(dir, "index.ts"));
  // Every top-level folder and file of the project, but index.ts and this stack's file: a shipped
  // stack's file is written as a copy (edited), never through a link into the repo.
  const shipped = fs.readdirSync(ROOT).filter((e) => !e.startsWith(".") && e !== "index.ts" && e !== `Pulumi.${stack}.yaml`);
  for (const entry of shipped) {
    fs.symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  }
  const doc = parseDocument(fs.readFileSync(path.join(ROOT, "Pulumi.production.yaml"), "utf8"));
  const config = doc.toJS().config as Record<string, unknown>;
  edit(config);
  fs.writeFileSync(
    path.join(dir, `Pulumi.${stack}.yaml`),
    `config:\n${Object.entries(config)
      .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
      .join("\n")}\n`,
  );
  return dir;
}

async function planIn(dir: string, stack: string, reveal = false): Promise<Plan> {
  const before = process.env.FLEET_PROJECT_DIR;
  process.env.FLEET_PROJECT_DIR = dir;
  try {
    return await runPlan({ stack, revealSecrets: reveal });
  } finally {
    if (before === undefined) delete process.env.FLEET_PROJECT_DIR;
    else process.env.FLEET_PROJECT_DIR = before;
  }
}

/** The git access part of an install step's stdin (after the environment file and the marker line). */
function gitAccessOf(stdin: string): string {
  const marker = `${GIT_ACCESS_MARKER}\n`;
  assert.ok(stdin.includes(marker), "no git access marker in the install stdin");
  return stdin.slice(stdin.indexOf(marker) + marker.length);
}

/** The tag each app's first-node install step checks out: "app -> tag". */
function stagedTags(plan: Plan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of plan.resources.filter((x) => /-install-node-1$/.test(x.name))) {
    // install.sh takes named arguments (--tag TAG); the step is named after the app.
    const m = /install\.sh .* --tag (\S+) /.exec(String(r.inputs.create));
    assert.ok(m, `${r.name}: ${String(r.inputs.create)}`);
    out[r.name.replace(/-install-node-1$/, "")] = m[1];
  }
  return out;
}

describe("the program: a recovery stack", function () {
  this.timeout(120000);
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  function recoveryStack(tags: "pinned" | "latest"): string {
    const dir = projectWithStack("production-dr", (c) => {
      c["aws:region"] = "eu-central-1";
      (c["fleet:database"] as Record<string, unknown>).backupReplicationRegion = "eu-north-1";
      c["fleet:recovery"] = {
        replaces: "production",
        media: "replica",
        tags,
        database: { from: "snapshot", snapshot: "fleet-production-final" },
      };
    });
    dirs.push(dir);
    return dir;
  }

  it("deploys the tags apps.yaml pins for the stack it replaces, onto a database from the snapshot", async () => {
    const plan = await planIn(recoveryStack("pinned"), "production-dr");
    const production = await shippedPlan({ stack: "production" });
    assert.deepEqual(stagedTags(plan), stagedTags(production));
    assert.deepEqual(stagedTags(plan), { "library-catalogue": "v3.12.1", polls: "v1.3.2", "room-booking": "v1.9.7" });
    assert.equal(byName(plan, "database").inputs.snapshotIdentifier, "fleet-production-final");
  });

  it("leaves the repositories' branches and rules to the stack it replaces, and still makes its own deploy keys", async () => {
    const plan = await planIn(recoveryStack("pinned"), "production-dr");
    const github = plan.resources.filter((r) => r.type.startsWith("github:")).map((r) => r.type);
    assert.ok(github.length > 0);
    assert.deepEqual([...new Set(github)], ["github:index/repositoryDeployKey:RepositoryDeployKey"]);
    assert.ok(
      plan.warnings?.some((w) => /manageRepositories is ignored on a recovery stack/.test(w)),
      String(plan.warnings),
    );
    // the stack it replaces does manage them
    const production = await shippedPlan({ stack: "production" });
    assert.ok(
      production.resources.some((r) => r.type === "github:index/organizationRuleset:OrganizationRuleset" && r.inputs.target === "branch"),
    );
  });

  it("with recovery.tags latest, asks for every app's newest release (left out, and said so, offline)", async () => {
    const plan = await planIn(recoveryStack("latest"), "production-dr");
    assert.deepEqual(plan.outputs.latestTags, { "library-catalogue": "latest", polls: "latest", "room-booking": "latest" });
    assert.deepEqual(
      plan.resources.filter((r) => r.type === DEPLOYMENT),
      [],
    );
    assert.equal(plan.warnings?.filter((w) => /tag "latest" is resolved only against GitHub/.test(w)).length, 3);
  });
});

describe("the program: GitHub wiring", function () {
  this.timeout(120000);

  it("gives each app's stage steps that app's own deploy key, on stdin only", async () => {
    const plan = await shippedPlan({ stack: "alpha", revealSecrets: true });
    const keys = new Map<string, string>();
    for (const r of plan.resources.filter((x) => /-install-node-\d+$/.test(x.name))) {
      const app = r.name.replace(/-install-node-\d+$/, "");
      const key = gitAccessOf(String(r.inputs.stdin));
      assert.match(key, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/, r.name);
      assert.ok(!String(r.inputs.create).includes("PRIVATE KEY"), `${r.name}: the key is on the command line`);
      if (keys.has(app)) assert.equal(key, keys.get(app), `${app}: one key for all nodes`);
      keys.set(app, key);
    }
    assert.deepEqual([...keys.keys()].sort(), ["alumni-news", "polls", "room-booking"]);
    assert.equal(new Set(keys.values()).size, 3, "apps share a deploy key");
    // The public half is what the repository gets, read-only, titled for the stack.
    const deployKey = byName(plan, "polls-deploy-key");
    assert.equal(deployKey.type, "github:index/repositoryDeployKey:RepositoryDeployKey");
    assert.equal(deployKey.inputs.readOnly, true);
    assert.equal(deployKey.inputs.repository, "polls");
    assert.equal(deployKey.inputs.title, "fleet alpha: polls");
  });

  it("manages branches and rules on production only; alpha only has deploy keys", async () => {
    const [alpha, production] = await Promise.all([shippedPlan({ stack: "alpha" }), shippedPlan({ stack: "production" })]);
    const kinds = (p: Plan) =>
      [...new Set(p.resources.filter((r) => r.type.startsWith("github:")).map((r) => r.type.split(":").pop()))].sort();
    assert.deepEqual(kinds(alpha), ["RepositoryDeployKey"]);
    // production as shipped keeps the rulesets at the organization (fleet:github.rulesets)
    assert.deepEqual(kinds(production), ["Branch", "BranchDefault", "OrganizationRuleset", "RepositoryDeployKey"]);
    const perRepository = await runPlan({
      stack: "production",
      config: { github: JSON.stringify({ manageRepositories: true, rulesets: "repository" }) },
    });
    assert.deepEqual(kinds(perRepository), ["Branch", "BranchDefault", "RepositoryDeployKey", "RepositoryRuleset"]);
  });

  it("clones from the GitHub Enterprise host the API lives on, unless a git URL template says otherwise", async () => {
    const ghe = JSON.stringify({ apiUrl: "https://github.example.edu/api/v3", prereleases: true });
    const plan = await runPlan({ stack: "alpha", config: { github: ghe } });
    assert.match(String(byName(plan, "polls-install-node-1").inputs.create), / git@github\.example\.edu:uni-it\/polls\.git /);
    const own = await runPlan({
      stack: "alpha",
      config: { github: ghe, deploy: JSON.stringify({ gitUrlTemplate: "https://git.example.edu/{repo}.git" }) },
    });
    assert.match(String(byName(own, "polls-install-node-1").inputs.create), / https:\/\/git\.example\.edu\/uni-it\/polls\.git /);
  });
});

describe("the program online: `latest` and the clone host's keys from GitHub", function () {
  this.timeout(120000);
  const gh = new FakeGithub("test-token");
  const saved = { ...process.env };

  before(async () => {
    gh.addRepo("uni-it/library-catalogue", { tags: ["v3.12.1", "v3.13.0-rc.1", "v3.12.2", "nightly", "v2.9.9"] });
    await gh.start();
    Object.assign(process.env, { FLEET_GITHUB_OFFLINE: "0", GITHUB_API_URL: gh.baseUrl, GITHUB_TOKEN: "test-token" });
  });
  after(async () => {
    for (const k of ["FLEET_GITHUB_OFFLINE", "GITHUB_API_URL", "GITHUB_TOKEN"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await gh.stop();
  });

  it("deploys the newest release for `latest` (alpha takes pre-releases), records it, and pins GitHub's host keys", async () => {
    const plan = await shippedPlan({ stack: "alpha", revealSecrets: true });
    assert.deepEqual(plan.outputs.latestTags, { "library-catalogue": "v3.13.0-rc.1" });
    assert.equal(stagedTags(plan)["library-catalogue"], "v3.13.0-rc.1");
    assert.deepEqual(plan.warnings ?? [], []);
    const stdin = gitAccessOf(String(byName(plan, "polls-install-node-1").inputs.stdin));
    const [key, hosts] = [stdin.slice(0, stdin.indexOf("-----END")), stdin.slice(stdin.indexOf("\n", stdin.indexOf("-----END")) + 1)];
    assert.match(key, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    assert.equal(hosts, META.ssh_keys.map((k) => `github.com ${k}\n`).join(""));
  });

  it("a repository GitHub does not know stops the program with one line naming the app", async () => {
    const catalog = path.join(os.tmpdir(), `fleet-apps-${process.pid}.yaml`);
    fs.writeFileSync(
      catalog,
      fs.readFileSync(path.join(ROOT, "apps.yaml"), "utf8").replace("repo: uni-it/library-catalogue", "repo: uni-it/no-such-repo"),
    );
    try {
      await assert.rejects(runPlan({ stack: "alpha", appsFile: catalog }), (err: Error) => {
        assert.equal(err.message.split("\n").length, 1, err.message);
        assert.match(err.message, /^library-catalogue: .*uni-it\/no-such-repo/);
        return true;
      });
    } finally {
      fs.rmSync(catalog, { force: true });
    }
  });
});

describe("the program: HTTPS from fleet:tls", function () {
  this.timeout(120000);
  let ca: TestCa;
  const dirs: string[] = [];
  before(() => (ca = makeCa()));
  after(() => {
    dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
    removeCa(ca);
  });

  function stackWithTls(tls: unknown): string {
    const dir = projectWithStack("production", (c) => (c["fleet:tls"] = tls));
    dirs.push(dir);
    return dir;
  }

  it("serves an app with a certificate over HTTPS: the key goes alone into a secret step, the server blocks stay readable", async () => {
    const polls = issue(ca, "polls.example.edu");
    const dir = stackWithTls({ polls: { certificate: polls.certificate, privateKey: polls.privateKey } });
    const plan = await planIn(dir, "production");
    const keys = byName(plan, "nginx-keys");
    const sites = byName(plan, "nginx-config");
    assert.equal(keys.inputs.stdin, "[secret]", "the keys' stdin is not secret");
    assert.ok(sites.dependsOn.includes(keys.urn), "the server blocks may be published before their keys");
    assert.ok(!JSON.stringify(plan).includes(polls.privateKey.split("\n")[1]), "a line of the key is in the plan");
    // What a reviewer sees in the plan of a pull request: the HTTPS server block and the certificate.
    const readable = String(sites.inputs.stdin);
    assert.match(readable, /listen 443 ssl;\n {4}server_name polls\.example\.edu;/);
    assert.match(readable, /@@fleet-file fleet-polls-[0-9a-f]{12}\.crt\n-----BEGIN CERTIFICATE-----/);
    assert.ok(readable.includes(polls.certificate));
    assert.ok(!readable.includes("PRIVATE KEY"));
    const releases = plan.outputs.appReleases as Record<string, { url: string }>;
    assert.equal(releases.polls.url, "https://polls.example.edu/");
    assert.equal(releases["library-catalogue"].url, "http://catalogue.library.example.edu/");

    const revealed = String(byName(await planIn(dir, "production", true), "nginx-keys").inputs.stdin);
    assert.match(revealed, /^@@fleet-file fleet-polls-[0-9a-f]{12}\.key\n/);
    assert.ok(revealed.includes(polls.privateKey));
    for (const step of [keys, sites]) assert.ok(!String(step.inputs.create).includes("PRIVATE KEY"));
  });

  it("offline, with the key encrypted in the stack file as `pulumi config set --secret` leaves it, the plan still shows HTTPS", async () => {
    const polls = issue(ca, "polls.example.edu");
    const dir = stackWithTls({ polls: { certificate: polls.certificate, privateKey: { secure: "v1:AAAAencrypted" } } });
    const plan = await planIn(dir, "production");
    assert.equal(byName(plan, "nginx-keys").inputs.stdin, "[secret]");
    assert.match(String(byName(plan, "nginx-config").inputs.stdin), /listen 443 ssl;/);
    assert.equal((plan.outputs.appReleases as Record<string, { url: string }>).polls.url, "https://polls.example.edu/");
    assert.deepEqual(plan.warnings?.filter((w) => w.includes("certificate")) ?? [], []);
  });

  it("a certificate for another name stops the program with one line naming the stack file and key", async () => {
    const wrong = issue(ca, "rooms.example.edu");
    const dir = stackWithTls({ polls: { certificate: wrong.certificate, privateKey: wrong.privateKey } });
    await assert.rejects(planIn(dir, "production"), (err: Error) => {
      assert.match(
        err.message,
        /^Pulumi\.production\.yaml:\d+:\d+: fleet:tls\.polls\.certificate: is for DNS:rooms\.example\.edu, not polls\.example\.edu$/,
      );
      return true;
    });
  });
});
