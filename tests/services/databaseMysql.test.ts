// fleet:database.engine mysql: the database step the program declares, run for real against
// Debian's MariaDB with a master user that has RDS's master privileges (no SUPER), and the
// DATABASE_URL the app gets checked against the result.
// Needs root: mariadb-install-db runs the server as the mysql user (tests/services/localMariaDb.ts).
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Plan, PlanResource, runPlan } from "../../offline/plan";
import { ROLLOUT_SCRIPTS_DIR } from "../../node/scripts";
import { LocalMariaDb } from "./localMariaDb";

const ADDRESS = "127.0.0.9";
/** What RDS for MariaDB grants its master user (with GRANT OPTION), as documented in
 *  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.MasterAccounts.html: no SUPER,
 *  and not every privilege in MariaDB's ALL (DELETE HISTORY is missing). */
const RDS_MASTER_PRIVILEGES =
  "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW DATABASES, " +
  "CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, " +
  "ALTER ROUTINE, CREATE USER, EVENT, TRIGGER, REPLICATION SLAVE";

/** SQL over TCP as `user` (password through a defaults file, never an argument); status and output. */
function asUser(user: string, password: string, sql: string, database?: string): { ok: boolean; out: string } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fleet-my-")), "my.cnf");
  fs.writeFileSync(file, `[client]\nuser=${user}\npassword=${password}\n`, { mode: 0o600 });
  const run = spawnSync(
    "mariadb",
    [`--defaults-extra-file=${file}`, "-h", ADDRESS, "-P", "3306", "-N", "-B", ...(database ? [database] : [])],
    { input: sql, encoding: "utf8" },
  );
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return { ok: run.status === 0, out: (run.stdout + run.stderr).trim() };
}

describe("database.sh against a real MariaDB (fleet:database.engine: mysql)", function () {
  this.timeout(600000);
  let db: LocalMariaDb;
  let plan: Plan;
  let step: PlanResource;
  const stdinLines = () => String(step.inputs.stdin).split("\n");

  /** The step's exact command, its scripts directory being this repository's copy. */
  function runStep(stdin: string, which: PlanResource = step) {
    const command = String(which.inputs.create).replace(/\/srv\/fleet\/scripts_[0-9a-f]+\//, `${ROLLOUT_SCRIPTS_DIR}/`);
    return spawnSync("sh", ["-c", command], { input: stdin, encoding: "utf8" });
  }

  before(async () => {
    db = await LocalMariaDb.start(ADDRESS);
    plan = await runPlan({
      stack: "alpha",
      revealSecrets: true,
      addresses: { database: ADDRESS },
      config: { "fleet:database": JSON.stringify({ engine: "mysql", instanceClass: "db.t4g.micro" }) },
    });
    const found = plan.resources.find((r) => r.name === "polls-database");
    assert.ok(found, "the plan has no polls-database step");
    step = found;
    // RDS makes the master user: here root makes it, with RDS's privileges and the plan's password.
    const [master, masterPassword] = stdinLines();
    db.root(`CREATE USER '${master}'@'%' IDENTIFIED BY '${masterPassword}'; GRANT ${RDS_MASTER_PRIVILEGES} ON *.* TO '${master}'@'%' WITH GRANT OPTION;
CREATE DATABASE other_app; CREATE TABLE other_app.secrets (v TEXT);`);
  });
  after(async () => db?.stop());

  it("is what the program declares: the mysql engine, RDS's address and port, credentials on stdin only", () => {
    assert.match(String(step.inputs.create), /database\.sh mysql app_polls 127\.0\.0\.9 3306$/);
    const [, masterPassword, appPassword] = stdinLines();
    assert.ok(!String(step.inputs.create).includes(masterPassword) && !String(step.inputs.create).includes(appPassword));
  });

  it("creates the app's database and user; the app's DATABASE_URL logs in to its own database and no other", () => {
    const run = runStep(String(step.inputs.stdin));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /database app_polls and its role are ready on 127\.0\.0\.9:3306/);
    const prepare = plan.resources.find((r) => r.name === "polls-install-node-1");
    const urlLine = /^DATABASE_URL='([^']+)'$/m.exec(String(prepare?.inputs.stdin));
    assert.ok(urlLine, "no DATABASE_URL in the app's environment");
    const url = new URL(urlLine[1]);
    assert.equal(url.protocol, "mysql:");
    assert.equal(`${url.hostname}:${url.port}`, `${ADDRESS}:3306`);
    const [user, password, database] = [url.username, decodeURIComponent(url.password), url.pathname.slice(1)];
    assert.equal(password, stdinLines()[2], "the URL carries the password the step set");
    const own = asUser(user, password, "CREATE TABLE t (id INT); INSERT INTO t VALUES (1); SELECT DATABASE(), COUNT(*) FROM t;", database);
    assert.ok(own.ok, own.out);
    assert.equal(own.out, "app_polls\t1");
    const foreign = asUser(user, password, "SELECT * FROM other_app.secrets;");
    assert.ok(!foreign.ok);
    assert.match(foreign.out, /denied/);
  });

  it("a rerun changes nothing; a rotated app password takes effect and the old one stops working", () => {
    assert.equal(runStep(String(step.inputs.stdin)).status, 0);
    assert.equal(asUser("app_polls", stdinLines()[2], "SELECT COUNT(*) FROM t;", "app_polls").out, "1", "the rerun lost data");
    const [master, masterPassword, oldPassword] = stdinLines();
    const rotated = "Rotated0123456789abcdefXYZ";
    assert.equal(runStep(`${master}\n${masterPassword}\n${rotated}\n`).status, 0);
    assert.ok(asUser("app_polls", rotated, "SELECT 1;", "app_polls").ok);
    assert.ok(!asUser("app_polls", oldPassword, "SELECT 1;", "app_polls").ok);
  });

  it("refuses a password that would need quoting, without repeating it and without changing anything", () => {
    const [master, masterPassword] = stdinLines();
    const run = runStep(`${master}\n${masterPassword}\nx'; DROP DATABASE polls; --\n`);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /the app password must be letters and digits only/);
    assert.ok(!run.stderr.includes("DROP"));
    assert.equal(db.root("SHOW DATABASES LIKE 'app_polls'"), "app_polls");
  });

  describe("apps named mysql and fleetadmin (the master's name) beside the master", () => {
    let named: Plan;
    const stepOf = (app: string) => named.resources.find((r) => r.name === `${app}-database`)!;
    const urlOf = (app: string) => {
      const prepare = named.resources.find((r) => r.name === `${app}-install-node-1`);
      const url = new URL(/^DATABASE_URL='([^']+)'$/m.exec(String(prepare?.inputs.stdin))![1]);
      return { user: url.username, password: decodeURIComponent(url.password), database: url.pathname.slice(1) };
    };
    before(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-mysql-names-"));
      const file = path.join(dir, "apps.yaml");
      fs.writeFileSync(
        file,
        [
          "apps:",
          ...["mysql", "fleetadmin"].flatMap((name, i) => [
            `  - name: ${name}`,
            `    repo: uni-it/${name}`,
            `    domain: ${name}.example.edu`,
            "    settings: s.settings",
            "    wsgi: s.wsgi:application",
            `    port: ${8500 + i}`,
            "    tags: { alpha: v1 }",
          ]),
          "",
        ].join("\n"),
      );
      named = await runPlan({
        stack: "alpha",
        appsFile: file,
        revealSecrets: true,
        addresses: { database: ADDRESS },
        config: { "fleet:database": JSON.stringify({ engine: "mysql", instanceClass: "db.t4g.micro" }) },
      });
      fs.rmSync(dir, { recursive: true, force: true });
      for (const app of ["mysql", "fleetadmin"]) {
        const run = runStep(String(stepOf(app).inputs.stdin), stepOf(app));
        assert.equal(run.status, 0, run.stderr);
      }
    });

    it("the master keeps its password and its name; fleetadmin's DATABASE_URL is not the master's", () => {
      const [master, masterPassword] = String(stepOf("fleetadmin").inputs.stdin).split("\n");
      assert.equal(master, "fleetadmin");
      assert.equal(asUser(master, masterPassword, "SELECT CURRENT_USER();").out, "fleetadmin@%", "the master's password changed");
      const app = urlOf("fleetadmin");
      assert.notEqual(app.user, master);
      assert.ok(!asUser(master, app.password, "SELECT 1;").ok, "the app's password logs in as the master");
      const foreign = asUser(app.user, app.password, "SELECT * FROM other_app.secrets;");
      assert.ok(!foreign.ok && /denied/.test(foreign.out), foreign.out);
      assert.ok(!asUser(app.user, app.password, "SELECT 1;", urlOf("mysql").database).ok, "fleetadmin's app reaches mysql's database");
    });

    it("the app named mysql gets its own database, and nothing of MySQL's grant tables", () => {
      const app = urlOf("mysql");
      assert.notEqual(app.database, "mysql");
      assert.equal(asUser(app.user, app.password, "CREATE TABLE t (id INT); SELECT DATABASE();", app.database).out, app.database);
      for (const sql of [
        "SELECT user FROM mysql.user;",
        "INSERT INTO mysql.db (Host, Db, User) VALUES ('%', '%', 'x');",
        "CREATE USER intruder;",
        "GRANT ALL ON *.* TO CURRENT_USER();",
      ]) {
        const r = asUser(app.user, app.password, sql, app.database);
        assert.ok(!r.ok && /denied/i.test(r.out), `${sql} -> ${r.out}`);
      }
      const grants = asUser(app.user, app.password, "SHOW GRANTS;").out.split("\n");
      assert.deepEqual(grants.map((g) => / ON (\S+) TO /.exec(g)?.[1]).sort(), ["*.*", `\`${app.database}\`.*`]);
      assert.match(
        grants.find((g) => g.includes(" ON *.* "))!,
        /^GRANT USAGE ON \*\.\* TO /,
      );
    });

    it("refuses an app role that is the master, changing nothing", () => {
      const [, masterPassword, appPassword] = String(stepOf("fleetadmin").inputs.stdin).split("\n");
      const dbArg = urlOf("fleetadmin").database;
      const run = spawnSync("sh", [path.join(ROLLOUT_SCRIPTS_DIR, "database.sh"), "mysql", dbArg, ADDRESS, "3306"], {
        input: `${dbArg}\n${masterPassword}\n${appPassword}\n`,
        encoding: "utf8",
      });
      assert.notEqual(run.status, 0);
      assert.match(run.stderr, /is the master user: set fleet:database.masterUsername to another name/);
    });
  });
});
