// AppDeployment as the program declares it (index.ts under runtime mocks, via the offline
// plan): the @pulumi/command traps it must avoid, the order of its steps, where secrets go.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { diffPlans, Plan, PlanResource, runPlan } from "../../offline/plan";

const REMOTE = ["command:remote:Command", "command:remote:CopyToRemote"];
const APPS = (tag: string) => `apps:
  - name: polls
    repo: uni-it/polls
    domain: polls.example.edu
    settings: pollsite.settings
    wsgi: pollsite.wsgi:application
    secrets: [API_TOKEN]
    tags: { production: ${tag} }
  - name: library
    repo: uni-it/library
    domain: library.example.edu
    settings: library.settings
    wsgi: library.wsgi:application
    tags: { production: v7 }
`;
const SECRET_VALUE = "token-that-must-stay-secret";

function catalog(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-deploy-")), "apps.yaml");
  fs.writeFileSync(file, text);
  return file;
}

const plan = (tag: string) =>
  runPlan({
    stack: "production",
    appsFile: catalog(APPS(tag)),
    revealSecrets: true,
    config: { "fleet:appSecrets": JSON.stringify({ polls: { API_TOKEN: SECRET_VALUE } }) },
  });

describe("AppDeployment in the program's plan", function () {
  this.timeout(120_000);
  let p: Plan;
  let steps: PlanResource[];
  const step = (name: string) => {
    const r = steps.find((s) => s.name === name);
    assert.ok(r, `no ${name}`);
    return r;
  };

  before(async () => {
    p = await plan("v1");
    steps = p.resources.filter((r) => REMOTE.includes(r.type) && r.parent?.includes("fleet:app:AppDeployment"));
  });

  it("declares the rollout of every app as remote commands under one component per app", () => {
    const components = p.resources
      .filter((r) => r.type === "fleet:app:AppDeployment")
      .map((r) => r.name)
      .sort();
    assert.deepEqual(components, ["library", "polls"]);
    assert.ok(
      steps.some((s) => s.name === "polls-switch-node-3"),
      "production has three nodes",
    );
  });

  it("never uses SSH setenv (environment, previous output in env) and always names the SSH user", () => {
    for (const s of steps) {
      assert.equal(s.inputs.environment, undefined, `${s.name} sets environment`);
      if (s.type === "command:remote:Command") assert.equal(s.inputs.addPreviousOutputInEnv, false, `${s.name}`);
      assert.equal((s.inputs.connection as { user?: string }).user, "deploy", `${s.name} connects as root`);
    }
  });

  it("secrets reach the nodes only on stdin, and steps that read them log nothing", () => {
    const rds = p.resources.find((r) => r.type === "aws:rds/instance:Instance")!;
    const randoms = p.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword").map((r) => r.name);
    assert.deepEqual(randoms.filter((n) => n.startsWith("polls-")).sort(), ["polls-db-password", "polls-secret-key"]);
    const secrets = [SECRET_VALUE, String(rds.inputs.password)];
    for (const s of steps) {
      for (const key of ["create", "update", "delete", "triggers"]) {
        const text = JSON.stringify(s.inputs[key] ?? "");
        for (const secret of secrets) assert.ok(!text.includes(secret), `${s.name}.${key} holds a secret`);
      }
      if (s.inputs.stdin !== undefined) assert.equal(s.inputs.logging, "none", `${s.name} reads a secret and logs`);
    }
    const env = String(step("polls-install-node-1").inputs.stdin);
    assert.match(env, new RegExp(`^API_TOKEN='${SECRET_VALUE}'$`, "m"));
    assert.match(env, /^DATABASE_URL='postgres:\/\/app_polls:[A-Za-z0-9]{32}@.+:5432\/app_polls'$/m);
    assert.match(env, /^SECRET_KEY='[A-Za-z0-9]{32,}'$/m); // the mock's fake value is shorter than the 64 asked for
    assert.match(String(step("polls-database").inputs.stdin), new RegExp(`^fleetadmin\\n${rds.inputs.password}\\n[A-Za-z0-9]{32}\\n$`));
  });

  it("waits for a booting host once per host (not per app), without a dial limit, behind the infrastructure's readiness step", () => {
    const waits = p.resources.filter((r) => r.parent?.includes("fleet:app:HostScripts") && r.name.endsWith("-scripts-wait"));
    // production: three nodes and two nginx hosts
    assert.deepEqual(waits.map((w) => w.name).sort(), [
      "node-1-scripts-wait",
      "node-2-scripts-wait",
      "node-3-scripts-wait",
      "static-host-2-scripts-wait",
      "static-host-scripts-wait",
    ]);
    for (const s of waits) {
      assert.equal((s.inputs.connection as { dialErrorLimit?: number }).dialErrorLimit, -1);
      assert.ok(
        s.dependsOn.some((d) => d.endsWith("-ready")),
        `${s.name} does not wait for the host's ready step`,
      );
    }
    const copies = p.resources.filter((r) => r.type === "command:remote:CopyToRemote");
    assert.equal(copies.length, 5, "one copy of the scripts per host, whatever the number of apps");
    // every app step on a host runs after that host's copy
    for (const s of steps) {
      const hostName = s.name.match(/-(node-\d)$/)?.[1] ?? "node-1";
      assert.ok(
        s.dependsOn.some((d) => d.endsWith(`::${hostName}-scripts-copy`)),
        `${s.name} does not wait for the scripts on ${hostName}`,
      );
    }
  });

  it("publishes from the first node with the app's own publish key, which the nginx host's access step authorises; its trigger is the nginx host", () => {
    const publish = step("polls-publish");
    const access = p.resources.find((r) => r.name === "publish-access")!;
    assert.ok(publish.dependsOn.includes(access.urn), "the access step authorises the key first");
    assert.equal(publish.runsOn, step("polls-install-node-1").runsOn);
    // Every nginx host's anchor, as its other steps have it (host 1's alone is what the step had
    // when it ran there, one host on every stack before the edge).
    const edgeAnchors = ["static-host", "static-host-2"].flatMap(
      (h) => p.resources.find((r) => r.name === `${h}-scripts-wait`)!.inputs.triggers as string[],
    );
    assert.deepEqual(publish.inputs.triggers, edgeAnchors, "a replaced nginx host gets the files again");
    assert.match(String(publish.inputs.create), /static\.sh app_polls v1 22 \S+ \S+$/, "to both nginx hosts");
    assert.notDeepEqual(publish.inputs.triggers, step("polls-install-node-1").inputs.triggers);
    assert.equal(publish.inputs.delete, undefined, "the access step owns the static directory");
    assert.deepEqual(
      p.resources.filter((r) => r.type === "tls:index/privateKey:PrivateKey").map((r) => r.name),
      ["deploy-key-key"],
      "the fleet's own key, and no key resource per app",
    );
    // The step's stdin is a private key whose public half the access step authorises for this app's directory only.
    const publicOf = (name: string) => {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-key-")), "k");
      fs.writeFileSync(file, String(step(name).inputs.stdin), { mode: 0o600 });
      // type and key; the comment (fleet-<app>) is not part of the authorized line's key
      return execFileSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" }).trim().split(" ").slice(0, 2).join(" ");
    };
    const pollsKey = publicOf("polls-publish");
    assert.notEqual(pollsKey, publicOf("library-publish"));
    // One key per app: the publish key is the app's GitHub deploy key, which its installs clone with.
    const deployKey = p.resources.find(
      (r) => r.type === "github:index/repositoryDeployKey:RepositoryDeployKey" && r.name === "polls-deploy-key",
    )!;
    assert.equal(String(deployKey.inputs.key).split(" ").slice(0, 2).join(" "), pollsKey);
    assert.ok(String(step("polls-install-node-2").inputs.stdin).includes(String(step("polls-publish").inputs.stdin).trim()));
    const lines = String(access.inputs.stdin)
      .split("\n")
      .filter((l) => l.includes(pollsKey));
    assert.deepEqual(lines, [
      `restrict,from="${lines[0]?.match(/from="([^"]+)"/)?.[1]}",command="/usr/bin/rrsync -wo -munge /var/www/app_polls/static" ${pollsKey} fleet-publish polls`,
    ]);
    // The fleet-wide key (every host's connection) reaches no host.
    const fleetKey = String((step("polls-install-node-1").inputs.connection as { privateKey: string }).privateKey).trim();
    for (const s of steps) assert.ok(!String(s.inputs.stdin ?? "").includes(fleetKey), `${s.name} hands the fleet-wide key to a host`);
  });

  it("chains the switches node after node, after the migration", () => {
    const urn = (name: string) => step(name).urn;
    assert.ok(step("polls-switch-node-1").dependsOn.includes(urn("polls-expand")));
    assert.ok(step("polls-switch-node-2").dependsOn.includes(urn("polls-switch-node-1")));
    assert.ok(step("polls-switch-node-3").dependsOn.includes(urn("polls-switch-node-2")));
    assert.ok(!step("polls-install-node-2").dependsOn.includes(urn("polls-install-node-1")));
  });

  it("the nginx sites follow what serves: each app's upstream is exactly the nodes of its switch steps, published after them", () => {
    const sites = p.resources.find((r) => r.name === "nginx-config")!;
    const stdin = String(sites.inputs.stdin);
    for (const app of ["polls", "library"]) {
      const switches = steps.filter((s) => s.name.startsWith(`${app}-switch-`));
      assert.equal(switches.length, 3);
      // After every switch (they are what it reads), and nothing of the app waits for the sites.
      for (const s of switches) assert.ok(sites.dependsOn.includes(s.urn), `nginx-config does not wait for ${s.name}`);
      for (const s of steps) assert.ok(!s.dependsOn.includes(sites.urn), `${s.name} waits for nginx-config: a cycle with the switches`);
      const switched = switches.map((s) => /\/switch\.sh \S+ \S+ ([0-9.]+) /.exec(String(s.inputs.create))![1]).sort();
      const file = new RegExp(`@@fleet-file fleet-${app}\\.conf\\n[^@]*?upstream fleet_${app} \\{\\n((?: {4}server .*\\n)+)`).exec(stdin);
      assert.ok(file, `no upstream for ${app}`);
      assert.deepEqual([...file[1].matchAll(/server ([0-9.]+):/g)].map((m) => m[1]).sort(), switched);
    }
  });

  it("an app no switch step serves (tag latest, offline) has no site, and is in no upstream", async () => {
    const latest = await runPlan({
      stack: "production",
      appsFile: catalog(APPS("latest")),
      config: { "fleet:appSecrets": JSON.stringify({ polls: { API_TOKEN: SECRET_VALUE } }) },
    });
    assert.ok(!latest.resources.some((r) => r.name.startsWith("polls-switch-")));
    const stdin = String(latest.resources.find((r) => r.name === "nginx-config")!.inputs.stdin);
    assert.ok(!stdin.includes("fleet-polls.conf") && !stdin.includes("polls.example.edu"), "polls has a site while it serves nowhere");
    assert.match(stdin, /@@fleet-file fleet-library\.conf\n/);
  });

  it("a tag bump changes that app's release steps and nothing else, not even its machines' steps", async () => {
    const changes = diffPlans(p, await plan("v2"));
    assert.ok(changes.length > 0);
    for (const c of changes) {
      assert.equal(c.op, "update", c.urn);
      assert.match(
        c.urn,
        /fleet:app:AppDeployment\$command:remote:Command::polls-(install-node-\d|publish|expand|switch-node-\d|contract)$/,
      );
      assert.deepEqual(c.keys, ["create"], c.urn);
    }
  });
});
