/**
 * Isolation on real local nodes (issue 12, section 4): apps named after the SSH user (`deploy`),
 * root, the platform's directories (`fleet`, `shared`), the database master (`fleetadmin`) and
 * Debian system users (`news`, `backup`, `list`, `proxy`) deploy side by side through the
 * program's own commands, and what an attacker inside one of them would try fails: sudo, admin
 * groups, another app's environment file, the master's or another app's database. Removing
 * apps removes only their own things.
 */
import { strict as assert } from "assert";
import { execFile } from "node:child_process";
import { appIdentity } from "../../config/identity";
import { scriptsVersion } from "../../node/scripts";
import { scriptsDir } from "../../rollout/layout";
import { Plan } from "../../offline/plan";
import { Cluster } from "../../testbed/cluster";
import { fixtureFleetRepo, get, LocalStack } from "../../testbed/localStack";
import { withLocalStack } from "./testBed";

const APPS = ["deploy", "root", "fleet", "shared", "fleetadmin", "news", "backup", "list", "proxy"];

/** A catalog of `apps`, each the fixture app on its own domain and port. */
function catalog(apps: string[]): string {
  const lines = ["apps:"];
  apps.forEach((name) => {
    lines.push(
      `  - name: ${name}`,
      `    repo: ${fixtureFleetRepo(name)}`,
      `    domain: ${name}.example.edu`,
      "    settings: pollsite.settings",
      "    wsgi: pollsite.wsgi:application",
      `    port: ${8300 + APPS.indexOf(name)}`,
      "    healthCheck: /healthz",
      "    tags:",
      "      alpha: v1",
    );
  });
  return `${lines.join("\n")}\n`;
}

/** The app's DATABASE_URL, as the plan writes it into its environment file. */
function databaseUrl(plan: Plan, app: string): URL {
  const prepare = plan.resources.find((r) => r.name === `${app}-install-node-1`);
  const line = /^DATABASE_URL='([^']+)'$/m.exec(String(prepare?.inputs.stdin));
  assert.ok(line, `no DATABASE_URL for ${app}`);
  return new URL(line[1]);
}

/** The master's credentials, as the plan gives them to RDS. */
function master(plan: Plan): { user: string; password: string } {
  const rds = plan.resources.find((r) => r.type === "aws:rds/instance:Instance");
  return { user: String(rds?.inputs.username), password: String(rds?.inputs.password) };
}

/** SQL from this machine as user/password; never throws: ok and the output. */
function psqlAs(cluster: Cluster, user: string, password: string, database: string, sql: string): Promise<{ ok: boolean; out: string }> {
  const pg = cluster.postgres;
  return new Promise((resolve) => {
    const child = execFile(
      "psql",
      ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", pg.host, "-p", String(pg.port), "-U", user, "-d", database],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" } },
      (err, stdout, stderr) => resolve({ ok: !err, out: (stdout + stderr).trim() }),
    );
    child.stdin!.end(sql);
  });
}

describe("e2e: a catalog name is never an identity (real nodes, real PostgreSQL)", function () {
  this.timeout(30 * 60 * 1000);
  const bed = withLocalStack({ appNodeCount: 1 });
  let cluster: Cluster;
  let stack: LocalStack;
  let plan: Plan;
  const node = () => cluster.appNodes[0];
  const onNode = async (command: string) => (await cluster.exec(node(), command)).stdout.trim();

  before(async () => {
    ({ cluster, stack } = bed);
    stack.appSecrets = {}; // these apps list no secrets
    cluster.serveFixtureAs(APPS.map(fixtureFleetRepo));
    // Three apps more per run, as apps join a stack: nine apps' first steps at once would open
    // more SSH connections to one node than sshd's MaxStartups lets in at a time.
    for (let n = 3; n <= APPS.length; n += 3) {
      const r = await stack.up(catalog(APPS.slice(0, n)));
      assert.ok(r.ok, `the rollout of ${APPS.slice(n - 3, n).join(", ")} failed: ${r.error}\nskipped: ${r.skipped.join(", ")}`);
    }
    plan = await stack.plan(catalog(APPS));
  });

  it("every app serves its own release through nginx, as its own user", async () => {
    for (const app of APPS) {
      const page = await get(`http://${cluster.staticHost.address}/`, `${app}.example.edu`);
      assert.equal(page.status, 200, `${app}: ${page.body.slice(0, 200)}`);
      assert.match(page.body, /release: v1/);
      const id = appIdentity(app);
      const owner = await onNode(`ps -o user= -p "$(cat ${id.home}/shared/run/gunicorn.pid)"`);
      assert.equal(owner, id.osUser, `${app}'s gunicorn runs as ${owner}`);
    }
  });

  it("the platform's users keep what they were: deploy still logs in with its one sudo right (the node helper), root is uid 0 alone", async () => {
    assert.notEqual(await onNode(`id -u ${appIdentity("root").osUser}`), "0");
    assert.equal(await onNode("getent passwd 0 | cut -d: -f1"), "root");
    assert.match(
      await onNode(`id -u ${cluster.sshUser} >/dev/null && runuser -u ${cluster.sshUser} -- sudo -n -l`),
      /\(root\) NOPASSWD: \/usr\/local\/sbin\/fleet-node$/m,
    );
    // Apps named fleet and shared take nothing of the scripts every app's steps run (one directory per host).
    assert.equal(await onNode(`stat -c %U /srv/fleet ${scriptsDir(scriptsVersion())}`), `${cluster.sshUser}\n${cluster.sshUser}`);
  });

  it("an app's user cannot sudo, is in no admin group, and cannot read another app's environment file", async () => {
    for (const app of APPS) {
      const { osUser, home } = appIdentity(app);
      assert.equal(await onNode(`id -Gn ${osUser}`), osUser, `${app}'s user is in other groups`);
      assert.equal(
        await onNode(`runuser -u ${osUser} -- sudo -n true 2>/dev/null && echo ROOT || echo refused`),
        "refused",
        `${app} can sudo`,
      );
      assert.equal(
        await onNode(`runuser -u ${osUser} -- test -r ${home}/shared/env && echo readable`),
        "readable",
        `${app} cannot read its own env`,
      );
    }
    for (const [reader, owner] of [
      ["news", "backup"],
      ["deploy", "fleet"],
      ["shared", "fleet"],
      ["root", "fleetadmin"],
    ]) {
      const env = `${appIdentity(owner).home}/shared/env`;
      const read = await onNode(`runuser -u ${appIdentity(reader).osUser} -- cat ${env} >/dev/null 2>&1 && echo READ || echo denied`);
      assert.equal(read, "denied", `${reader} read ${owner}'s environment file`);
    }
  });

  it("no DATABASE_URL logs in as the master or reaches another app's database; the master's password is unchanged", async () => {
    const m = master(plan);
    assert.equal(m.user, "fleetadmin", "the stack's master is the default one, the name of an app here");
    for (const app of APPS) {
      const url = databaseUrl(plan, app);
      const [user, password, database] = [url.username, decodeURIComponent(url.password), url.pathname.slice(1)];
      assert.notEqual(user, m.user);
      const own = await psqlAs(
        cluster,
        user,
        password,
        database,
        "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user",
      );
      assert.equal(own.out, `${appIdentity(app).databaseRole}|f|f|f`, `${app}: ${own.out}`);
      const asMaster = await psqlAs(cluster, m.user, password, "postgres", "SELECT 1");
      assert.ok(!asMaster.ok, `${app}'s password logs in as the master`);
    }
    const fleetadmin = databaseUrl(plan, "fleetadmin");
    const other = await psqlAs(
      cluster,
      fleetadmin.username,
      decodeURIComponent(fleetadmin.password),
      appIdentity("news").database,
      "SELECT 1",
    );
    assert.ok(!other.ok && /permission denied|not permitted/.test(other.out), `fleetadmin's app reached news's database: ${other.out}`);
    const stillMaster = await psqlAs(
      cluster,
      m.user,
      m.password,
      "postgres",
      "SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user",
    );
    assert.equal(stillMaster.out, "t", `the master's password or rights changed: ${stillMaster.out}`);
  });

  it("removing shared and deploy removes only their own things: fleet keeps its files and serves, deploy still deploys", async () => {
    const left = APPS.filter((a) => a !== "shared" && a !== "deploy");
    const r = await stack.up(catalog(left));
    assert.ok(r.ok, `removing failed: ${r.error}`);
    for (const gone of ["shared", "deploy"]) {
      const id = appIdentity(gone);
      assert.equal(
        await onNode(
          `test -e ${id.home} && echo home; test -e /srv/fleet/${gone} && echo scripts; id ${id.osUser} >/dev/null 2>&1 && echo user; true`,
        ),
        "",
        `${gone} left things behind`,
      );
    }
    const fleet = appIdentity("fleet");
    assert.equal(
      await onNode(`test -f ${fleet.home}/shared/env && test -f ${scriptsDir(scriptsVersion())}/switch.sh && echo kept`),
      "kept",
      "fleet's environment or the host's scripts went with shared or deploy",
    );
    assert.equal(await onNode(`id -u ${cluster.sshUser} >/dev/null && echo present`), "present");
    for (const app of left)
      assert.equal((await get(`http://${cluster.staticHost.address}/`, `${app}.example.edu`)).status, 200, `${app} stopped serving`);
    // The SSH user still runs every step: bring deploy back.
    const back = await stack.up(catalog([...left, "deploy"]));
    assert.ok(back.ok, `deploying deploy again failed: ${back.error}`);
    assert.equal((await get(`http://${cluster.staticHost.address}/`, "deploy.example.edu")).status, 200);
  });
});
