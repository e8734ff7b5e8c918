// The migration classifier (node/rollout/fleet_migrations.py) run for real: Debian's Django 3.2
// against the case project in tests/services/migration-cases (one app per case), on SQLite and
// on a throwaway PostgreSQL 15 and MariaDB (the rewrites and the size query). Each app's 0001 is applied through the classifier's own
// `migrate`, then `classify` places every later migration: before-switch (expand),
// after-switch (contract), or unsafe (refused unless acknowledged).
// Needs root: the throwaway PostgreSQL runs as the postgres user (runuser).
import { strict as assert } from "assert";
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalMariaDb } from "./localMariaDb";

const CASES = path.join(__dirname, "migration-cases");
const CLASSIFIER = path.join(__dirname, "..", "..", "node", "rollout", "fleet_migrations.py");
const PG_BIN = "/usr/lib/postgresql/15/bin";
// Debian's Python (root's PATH may have another one first, without Django).
const PYTHON = "/usr/bin/python3";

interface Listed {
  name: string;
  class: string;
  when: string;
  reason: string;
  rewrite?: string;
}

const apps = () =>
  fs
    .readdirSync(CASES)
    .filter((d) => d.startsWith("case_"))
    .sort();

function classifier(env: NodeJS.ProcessEnv, args: string[], timeout?: number) {
  const r = spawnSync(PYTHON, [CLASSIFIER, ...args], {
    cwd: CASES,
    timeout,
    env: { ...process.env, ...env, DJANGO_SETTINGS_MODULE: "caseproject.settings", PYTHONPATH: CASES },
    encoding: "utf8",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Classifies every pending migration (SMALL_ROWS: migrationSmallTableRows; SERVING: what the
 *  serving code knows, "-" the applied migrations, "none" nothing): the JSON line's entries and the refusals. */
function classifyAll(env: NodeJS.ProcessEnv, acks = "-", smallRows = 0, serving = "-") {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-classify-"));
  try {
    const r = classifier(env, [
      "classify",
      "cases",
      "t1",
      acks,
      "-",
      path.join(out, "expand"),
      String(smallRows),
      serving,
      path.join(out, "relax"),
    ]);
    const line = r.stdout.split("\n").find((l) => l.startsWith("fleet-migrations: "));
    assert.ok(line, `no fleet-migrations line: ${r.stdout}${r.stderr}`);
    const listed = (JSON.parse(line.slice("fleet-migrations: ".length)) as { migrations: Listed[] }).migrations;
    const refusals = r.stderr.split("\n").filter((l) => l.startsWith("REFUSED "));
    const expand = fs.readFileSync(path.join(out, "expand"), "utf8").split("\n").filter(Boolean);
    const relax = fs.readFileSync(path.join(out, "relax"), "utf8").split("\n").filter(Boolean);
    return { code: r.code, listed, refusals, expand, relax, stderr: r.stderr };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function prepare(env: NodeJS.ProcessEnv): void {
  const r = classifier(env, ["migrate", "5", "60", "0", "forwards", ...apps().map((a) => `${a}.0001_initial`)]);
  assert.equal(r.code, 0, r.stderr);
}

const placed = (listed: Listed[]) => Object.fromEntries(listed.map((m) => [m.name, `${m.class} ${m.when}`]));

/** What every engine agrees on. */
const COMMON: Record<string, string> = {
  "case_add_nullable.0002_item_size": "before-switch expand",
  "case_add_not_null.0002_item_size": "unsafe refused",
  "case_add_default.0002_item_size": "before-switch expand",
  "case_alter_bigint.0002_alter_item_id_votes": "unsafe refused",
  "case_history.0002_legacy_part": "before-switch expand",
  "case_history.0003_rename_part_piece": "before-switch expand",
  "case_history.0004_piece_ref_unique_remove_legacy": "before-switch expand",
  "case_add_unique.0002_item_code": "unsafe refused",
  "case_remove_nullable.0002_remove_item_note": "after-switch contract",
  "case_rename.0002_rename_name_title": "unsafe refused",
  "case_rename_model.0002_rename_item_thing": "unsafe refused",
  "case_alter_longer.0002_alter_item_name": "before-switch expand",
  "case_alter_shorter.0002_alter_item_name": "unsafe refused",
  "case_alter_not_null.0002_alter_item_note": "unsafe refused",
  "case_alter_choices.0002_alter_item_name": "before-switch expand",
  "case_unique_constraint.0002_item_name_unique": "unsafe refused",
  "case_delete_model.0002_delete_item": "after-switch contract",
  "case_mixed.0002_item_size_remove_note": "unsafe refused",
  "case_raw_sql.0002_raw": "unsafe refused",
  "case_raw_sql_reversible.0002_raw": "before-switch expand",
  "case_run_python.0002_fill": "before-switch expand",
  "case_declared.0002_item_size": "after-switch contract",
  "case_safemigrate.0002_remove_item_note": "before-switch expand",
  "case_new_table.0002_part": "before-switch expand",
  "case_new_table.0003_part_weight": "before-switch expand",
  "case_unordered.0002_remove_item_note": "after-switch contract",
  "case_unordered.0003_item_size": "before-switch refused",
};

function sharedCases(env: () => NodeJS.ProcessEnv) {
  it("places every case as the rules say; refuses with one line naming app, tag, migration, operation and recipe", () => {
    const { code, listed, refusals, expand } = classifyAll(env());
    assert.equal(code, 4);
    const got = placed(listed);
    for (const [name, expected] of Object.entries(COMMON))
      assert.equal(got[name], expected, `${name}: ${listed.find((m) => m.name === name)?.reason}`);
    assert.ok(
      refusals.includes(
        "REFUSED cases t1: case_add_not_null.0002_item_size (Add field size to item) adds NOT NULL column case_add_not_null_item.size without a database default, so the old code's inserts fail (case_add_not_null_item: 1 row); safe recipe: add it with null=True (or, on Django 5+, a db_default) in one release, backfill it, make it NOT NULL in the next; or acknowledge it in apps.yaml (acknowledgeMigrations: [case_add_not_null.0002_item_size])",
      ),
      refusals.join("\n"),
    );
    assert.match(
      refusals.join("\n"),
      /case_unordered\.0003_item_size runs before the switch but depends on case_unordered\.0002_remove_item_note, which runs after it: it cannot be ordered/,
    );

    assert.equal(refusals.length, listed.filter((m) => m.when === "refused").length);
    assert.deepEqual(
      expand.sort(),
      listed
        .filter((m) => m.when === "expand")
        .map((m) => m.name)
        .sort(),
    );
    assert.match(
      listed.find((m) => m.name === "case_safemigrate.0002_remove_item_note")!.reason,
      /django-safemigrate's safe = before_deploy/,
    );
    // Renames and lossy type changes are refused whatever the size, and say it.
    assert.match(
      refusals.join("\n"),
      /case_rename\.0002_rename_name_title .*renames column case_rename_item\.name to title, which the old code still uses \(case_rename_item: 1 row\); safe recipe:/,
    );
  });

  it("a field added with a constant default is made safe: its database default is kept until contract (keep-default)", () => {
    const entry = classifyAll(env()).listed.find((m) => m.name === "case_add_default.0002_item_size")!;
    assert.equal(entry.rewrite, "keep-default");
    assert.match(
      entry.reason,
      /adds NOT NULL column case_add_default_item\.size with Django's default 0, kept as its database default until contract/,
    );
  });

  it("tables and columns the serving code never saw (created, renamed, dropped in the plan) are never queried nor refused", () => {
    const { listed } = classifyAll(env());
    const history = listed.filter((m) => m.name.startsWith("case_history."));
    assert.deepEqual(
      history.map((m) => m.when),
      ["expand", "expand", "expand"],
      JSON.stringify(history),
    );
    assert.match(history[2].reason, /new in this plan|adds/);
  });

  it("locking operations pass on a table of at most migrationSmallTableRows rows, saying its size; above it they are refused with the size and the recipe", () => {
    const locking = [
      "case_add_unique.0002_item_code",
      "case_unique_constraint.0002_item_name_unique",
      "case_alter_bigint.0002_alter_item_id_votes",
      "case_alter_not_null.0002_alter_item_note",
    ];
    const small = classifyAll(env(), "-", 10);
    const large = classifyAll(env(), "-", 0);
    for (const name of locking) {
      const s = small.listed.find((m) => m.name === name)!;
      assert.equal(`${s.class} ${s.when}`, "before-switch expand", `${name}: ${s.reason}`);
      assert.match(s.reason, /is small \(1 row, at most 10: migrationSmallTableRows\), so the lock is short/);
      const refusal = large.refusals.find((r) => r.includes(` ${name} `));
      assert.ok(refusal, `${name} not refused above the threshold: ${large.refusals.join("\n")}`);
      assert.match(refusal, /\(case_\w+_item: 1 row, above the 0 rows of migrationSmallTableRows\); safe recipe: /);
    }
    // What is not only a lock stays refused on a small table.
    for (const name of [
      "case_add_not_null.0002_item_size",
      "case_rename.0002_rename_name_title",
      "case_alter_shorter.0002_alter_item_name",
    ]) {
      assert.equal(placed(small.listed)[name], "unsafe refused", name);
    }
  });

  it("an acknowledged unsafe migration runs in expand and the output says the old code is exposed to it", () => {
    const { listed, refusals, expand, stderr } = classifyAll(env(), "case_rename.0002_rename_name_title,case_add_not_null.0002_item_size");
    const got = placed(listed);
    assert.equal(got["case_rename.0002_rename_name_title"], "unsafe expand");
    assert.equal(got["case_add_not_null.0002_item_size"], "unsafe expand");
    assert.ok(expand.includes("case_rename.0002_rename_name_title"));
    assert.ok(!refusals.some((r) => r.includes("case_rename.")), refusals.join("\n"));
    assert.match(
      stderr,
      /fleet: case_rename\.0002_rename_name_title runs while the old code serves \(acknowledged in apps\.yaml\): the old code is exposed to it/,
    );
  });

  it("nothing changed: classifying applies nothing", () => {
    const applied = classifier(env(), ["applied"]).stdout.trim().split("\n");
    assert.deepEqual(
      applied.filter((m) => m.startsWith("case_")),
      apps().map((a) => `${a}.0001_initial`),
    );
  });
}

describe("migration classifier on SQLite (Django 3.2 from Debian)", function () {
  this.timeout(120000);
  let dir = "";
  const env = () => ({ CASES_DATABASE: path.join(dir, "cases.sqlite") });
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-cases-"));
    prepare(env());
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  sharedCases(env);

  it("a first deploy (no release serves, or none of the app's tables exist) refuses nothing, over histories with DeleteModel, renames and mixes", () => {
    const fresh = { CASES_DATABASE: path.join(dir, "fresh.sqlite") };
    for (const serving of ["none", "-"]) {
      const { code, listed, refusals, expand } = classifyAll(fresh, "-", 0, serving);
      assert.equal(code, 0, refusals.join("\n"));
      assert.deepEqual(refusals, []);
      assert.ok(
        listed.some((m) => m.name === "case_delete_model.0002_delete_item") && listed.some((m) => m.name === "case_raw_sql.0002_raw"),
      );
      for (const m of listed) assert.equal(`${m.class} ${m.when}`, "before-switch expand", `${m.name}: ${m.reason}`);
      assert.equal(expand.length, listed.length);
      assert.match(listed[0].reason, /no code of the app serves on this database yet/);
    }
  });

  it("SQLite is not PostgreSQL: an index build and varchar -> text are judged as there; a NOT NULL column to drop cannot be made nullable in place", () => {
    const { listed, relax } = classifyAll(env());
    const got = placed(listed);
    assert.equal(got["case_add_index.0002_item_name_idx"], "before-switch expand");
    assert.equal(got["case_alter_text.0002_alter_item_name"], "unsafe refused");
    assert.equal(got["case_remove_not_null.0002_remove_item_name"], "unsafe refused");
    assert.deepEqual(relax, []);
  });
});

class LocalPostgres {
  private server?: ChildProcess;
  readonly port = 15400 + (process.pid % 500);
  private constructor(readonly dir: string) {}

  static async start(): Promise<LocalPostgres> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-cases-pg-"));
    fs.chmodSync(dir, 0o755);
    execFileSync("chown", ["postgres:postgres", dir]);
    const pg = new LocalPostgres(dir);
    execFileSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/initdb`, "-D", `${dir}/data`, "-U", "postgres", "--auth=trust", "-N"], {
      stdio: "ignore",
    });
    pg.server = spawn(
      "runuser",
      [
        "-u",
        "postgres",
        "--",
        `${PG_BIN}/postgres`,
        "-D",
        `${dir}/data`,
        "-k",
        dir,
        "-p",
        String(pg.port),
        "-c",
        "listen_addresses=",
        "-c",
        "fsync=off",
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 100; i++) {
      if (spawnSync(`${PG_BIN}/pg_isready`, ["-h", dir, "-p", String(pg.port)]).status === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    execFileSync("psql", ["-X", "-q", "-h", dir, "-p", String(pg.port), "-U", "postgres", "-c", "CREATE DATABASE cases"]);
    return pg;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server && server.exitCode === null) {
      spawnSync("runuser", ["-u", "postgres", "--", `${PG_BIN}/pg_ctl`, "-D", `${this.dir}/data`, "-m", "immediate", "stop"], {
        stdio: "ignore",
      });
      await new Promise<void>((resolve) => (server.exitCode === null ? server.once("exit", () => resolve()) : resolve()));
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("migration classifier on PostgreSQL 15 (Django 3.2 from Debian)", function () {
  this.timeout(120000);
  let pg: LocalPostgres;
  const env = () => ({ CASES_DATABASE: pg.dir, CASES_PORT: String(pg.port) });
  before(async () => {
    pg = await LocalPostgres.start();
    prepare(env());
  });
  after(async () => pg?.stop());
  sharedCases(env);

  it("PostgreSQL rules: a non-concurrent index build on a populated table is unsafe; varchar -> text is safe", () => {
    const listed = classifyAll(env()).listed;
    const got = placed(listed);
    assert.equal(got["case_add_index.0002_item_name_idx"], "unsafe refused");
    assert.match(listed.find((m) => m.name === "case_add_index.0002_item_name_idx")!.reason, /without CONCURRENTLY/);
    assert.equal(got["case_alter_text.0002_alter_item_name"], "before-switch expand");
  });

  it("a before-switch migration that touches none of the models of the contract migrations it depends on runs in expand ahead of them; applied so, contract applies the rest", () => {
    const { listed } = classifyAll(env());
    const got = placed(listed);
    assert.equal(got["case_reorder.0002_remove_item_note"], "after-switch contract");
    // Only a choice and a Python default change: no SQL (on SQLite, a table rebuild).
    assert.equal(got["case_reorder.0003_alter_item_kind"], "before-switch contract");
    assert.equal(listed.find((m) => m.name === "case_reorder.0003_alter_item_kind")!.reason, "changes Django's state only (no SQL)");
    assert.equal(got["case_reorder.0004_other_size"], "before-switch expand");
    assert.match(
      listed.find((m) => m.name === "case_reorder.0004_other_size")!.reason,
      /; runs in expand ahead of case_reorder\.0002_remove_item_note, case_reorder\.0003_alter_item_kind \(contract\), whose models it does not touch$/,
    );
    const ahead = classifier(env(), ["migrate", "5", "60", "0", "forwards", "case_reorder.0004_other_size"]);
    assert.equal(ahead.code, 0, ahead.stderr);
    // A rerun of expand, and contract, still see the migrations it went ahead of as pending.
    assert.deepEqual(
      classifyAll(env())
        .listed.map((m) => m.name)
        .filter((m) => m.startsWith("case_reorder.")),
      ["case_reorder.0002_remove_item_note", "case_reorder.0003_alter_item_kind"],
    );
    const rest = classifier(env(), [
      "migrate",
      "5",
      "60",
      "0",
      "forwards",
      "case_reorder.0002_remove_item_note",
      "case_reorder.0003_alter_item_kind",
    ]);
    assert.equal(rest.code, 0, rest.stderr);
    assert.deepEqual(
      classifier(env(), ["applied"])
        .stdout.split("\n")
        .filter((m) => m.startsWith("case_reorder.")),
      [
        "case_reorder.0001_initial",
        "case_reorder.0002_remove_item_note",
        "case_reorder.0003_alter_item_kind",
        "case_reorder.0004_other_size",
      ],
    );
  });

  it("judges against the serving release's migrations: columns it never saw are new, whatever the database has applied", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-serving-"));
    try {
      // The serving code knows only case_history's 0001 (and no other case): every other case's table is new to it.
      fs.writeFileSync(path.join(out, "known"), "case_history.0001_initial\n");
      const { listed, refusals } = classifyAll(env(), "-", 0, path.join(out, "known"));
      assert.equal(placed(listed)["case_rename.0002_rename_name_title"], "before-switch expand");
      assert.equal(placed(listed)["case_remove_not_null.0002_remove_item_name"], "before-switch expand");
      // Raw SQL without a reverse may touch anything the serving code uses: still refused.
      assert.deepEqual(
        refusals.map((r) => r.split(" ")[3]),
        ["case_raw_sql.0002_raw"],
      );
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it("keep-default: expand leaves Django's constant default on the new column (the old code's inserts get it); drop-defaults removes it", () => {
    const psql = (sql: string) =>
      spawnSync("psql", ["-X", "-q", "-A", "-t", "-h", pg.dir, "-p", String(pg.port), "-U", "postgres", "-d", "cases", "-c", sql], {
        encoding: "utf8",
      });
    const r = classifier(env(), ["migrate", "5", "60", "0", "forwards", "case_add_default.0002_item_size"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^KEPT-DEFAULT case_add_default_item\.size$/m);
    assert.match(r.stdout, /^KEPT-DEFAULT case_add_default_item\.label$/m);
    const oldInsert = psql("INSERT INTO case_add_default_item (name) VALUES ('written by the old code') RETURNING size || '|' || label");
    assert.equal(oldInsert.status, 0, oldInsert.stderr);
    assert.equal(oldInsert.stdout.trim(), "0|");
    const kept = path.join(pg.dir, "kept-defaults");
    fs.writeFileSync(kept, "case_add_default_item.size\ncase_add_default_item.label\n");
    const dropped = classifier(env(), ["drop-defaults", "5", "60", "0", kept]);
    assert.equal(dropped.code, 0, dropped.stderr);
    const after = psql("INSERT INTO case_add_default_item (name) VALUES ('old code, after contract')");
    assert.match(after.stderr, /null value in column "size"/);
  });

  it("a first deploy (forwards-first: no code serves) keeps no default: nothing old inserts, and contract has none to find", () => {
    const psql = (sql: string) =>
      spawnSync("psql", ["-X", "-q", "-A", "-t", "-h", pg.dir, "-p", String(pg.port), "-U", "postgres", "-d", "cases", "-c", sql], {
        encoding: "utf8",
      });
    const back = classifier(env(), ["migrate", "5", "60", "0", "backwards", "case_add_default.0002_item_size"]);
    assert.equal(back.code, 0, back.stderr);
    const r = classifier(env(), ["migrate", "5", "60", "0", "forwards-first", "case_add_default.0002_item_size"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /applying case_add_default\.0002_item_size/);
    assert.doesNotMatch(r.stdout, /KEPT-DEFAULT/);
    const insert = psql("INSERT INTO case_add_default_item (name) VALUES ('no default kept')");
    assert.match(insert.stderr, /null value in column "size"/);
  });

  it("nullable-until-contract: a NOT NULL column contract drops is made nullable in expand (with its constant default): the new code's inserts leave it out, the old code's still write it", () => {
    const psql = (sql: string) =>
      spawnSync("psql", ["-X", "-q", "-A", "-t", "-h", pg.dir, "-p", String(pg.port), "-U", "postgres", "-d", "cases", "-c", sql], {
        encoding: "utf8",
      });
    const { listed, relax } = classifyAll(env());
    const entry = listed.find((m) => m.name === "case_remove_not_null.0002_remove_item_name")!;
    assert.equal(`${entry.class} ${entry.when} ${entry.rewrite}`, "after-switch contract nullable-until-contract", entry.reason);
    assert.match(
      entry.reason,
      /drops NOT NULL column case_remove_not_null_item\.name that the old code reads and writes; made nullable in expand, so the new code's inserts, which leave it out, succeed until contract drops it/,
    );
    assert.deepEqual(relax, [
      "case_remove_not_null.0002_remove_item_name case_remove_not_null_item name",
      "case_remove_not_null.0002_remove_item_name case_remove_not_null_item flag",
    ]);
    const newInsert =
      "INSERT INTO case_remove_not_null_item (note) VALUES ('written by the new code') RETURNING coalesce(name, 'NULL') || '|' || flag";
    assert.match(psql(newInsert).stderr, /null value in column "name"/, "the new code's insert fails before expand");
    const file = path.join(pg.dir, "relax");
    fs.writeFileSync(file, relax.join("\n") + "\n");
    const relaxed = classifier(env(), ["relax-columns", "5", "60", "0", file]);
    assert.equal(relaxed.code, 0, relaxed.stderr);
    assert.match(
      relaxed.stderr,
      /fleet: made nullable until contract drops them: case_remove_not_null_item\.name case_remove_not_null_item\.flag/,
    );
    const inserted = psql(newInsert);
    assert.equal(inserted.status, 0, inserted.stderr);
    assert.equal(inserted.stdout.trim(), "NULL|true", "no name; the flag the old code expects");
    const oldInsert = psql("INSERT INTO case_remove_not_null_item (name, note, flag) VALUES ('written by the old code', '', false)");
    assert.equal(oldInsert.status, 0, oldInsert.stderr);
    const contract = classifier(env(), ["migrate", "5", "60", "0", "forwards", "case_remove_not_null.0002_remove_item_name"]);
    assert.equal(contract.code, 0, contract.stderr);
    assert.equal(
      psql(
        "SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'case_remove_not_null_item'",
      ).stdout.trim(),
      "id,note",
    );
  });

  it("a migration waiting for a lock another session holds gives up after its lock timeout and retries, exit 5", async () => {
    const holder = spawn("psql", ["-X", "-q", "-h", pg.dir, "-p", String(pg.port), "-U", "postgres", "-d", "cases"], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    holder.stdin!.write("BEGIN; LOCK TABLE case_add_nullable_item IN ACCESS SHARE MODE;\n");
    try {
      await new Promise((r) => setTimeout(r, 500));
      // The lock is held for as long as the test wants: without the timeout the migration would wait forever.
      const r = classifier(env(), ["migrate", "1", "60", "1", "forwards", "case_add_nullable.0002_item_size"], 90000);
      assert.equal(r.code, 5, `${r.stderr} (killed after 90 s: ${r.code === null})`);
      assert.match(r.stderr, /a database lock was not granted within 1 s \(attempt 1 of 2\); retrying in 1 s/);
      const gaveUp =
        /could not get a database lock within 1 s in 2 attempts, ([0-9.]+) s in all \(canceling statement due to lock timeout\)/.exec(
          r.stderr,
        );
      assert.ok(gaveUp, r.stderr);
      assert.ok(Number(gaveUp[1]) >= 3, `two 1 s waits and a 1 s pause took ${gaveUp[1]} s`);
      assert.ok(!classifier(env(), ["applied"]).stdout.includes("case_add_nullable.0002_item_size"));
    } finally {
      holder.kill("SIGTERM");
    }
  });
});

describe("migration classifier on MariaDB (Django 3.2 and mysqlclient from Debian)", function () {
  this.timeout(180000);
  let db: LocalMariaDb;
  const env = () => ({ CASES_DATABASE: `mysql:${db.socket}` });
  const sql = (statement: string) => db.root(`USE cases; ${statement}`);
  before(async () => {
    db = await LocalMariaDb.start();
    db.root("CREATE DATABASE cases CHARACTER SET utf8mb4");
    prepare(env());
  });
  after(async () => db?.stop());

  it("keep-default: expand leaves Django's constant default on the new column (the old code's inserts get it); drop-defaults removes it", () => {
    const entry = classifyAll(env()).listed.find((m) => m.name === "case_add_default.0002_item_size")!;
    assert.equal(`${entry.class} ${entry.when} ${entry.rewrite}`, "before-switch expand keep-default");
    const r = classifier(env(), ["migrate", "5", "60", "0", "forwards", "case_add_default.0002_item_size"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^KEPT-DEFAULT case_add_default_item\.size$/m);
    sql("INSERT INTO case_add_default_item (name) VALUES ('written by the old code')");
    assert.equal(sql("SELECT concat(size, '|', label) FROM case_add_default_item WHERE name = 'written by the old code'"), "0|");
    const kept = path.join(db.dir, "kept-defaults");
    fs.writeFileSync(kept, "case_add_default_item.size\ncase_add_default_item.label\n");
    const dropped = classifier(env(), ["drop-defaults", "5", "60", "0", kept]);
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.throws(
      () => sql("INSERT INTO case_add_default_item (name) VALUES ('old code, after contract')"),
      /Field 'size' doesn't have a default value/,
    );
  });

  it("nullable-until-contract: MODIFY ... NULL with the constant default; the new code's inserts leave the column out; contract drops it", () => {
    const { listed, relax } = classifyAll(env());
    const entry = listed.find((m) => m.name === "case_remove_not_null.0002_remove_item_name")!;
    assert.equal(`${entry.class} ${entry.when} ${entry.rewrite}`, "after-switch contract nullable-until-contract", entry.reason);
    const file = path.join(db.dir, "relax");
    fs.writeFileSync(file, relax.join("\n") + "\n");
    const relaxed = classifier(env(), ["relax-columns", "5", "60", "0", file]);
    assert.equal(relaxed.code, 0, relaxed.stderr);
    sql("INSERT INTO case_remove_not_null_item (note) VALUES ('written by the new code')");
    assert.equal(
      sql("SELECT concat(coalesce(name, 'NULL'), '|', flag) FROM case_remove_not_null_item WHERE note = 'written by the new code'"),
      "NULL|1",
    );
    const contract = classifier(env(), ["migrate", "5", "60", "0", "forwards", "case_remove_not_null.0002_remove_item_name"]);
    assert.equal(contract.code, 0, contract.stderr);
    assert.equal(
      sql(
        "SELECT group_concat(column_name ORDER BY column_name) FROM information_schema.columns WHERE table_schema = 'cases' AND table_name = 'case_remove_not_null_item'",
      ),
      "id,note",
    );
  });

  it("sizes a table by counting up to the threshold (exact), above it by information_schema.tables", () => {
    sql("INSERT INTO case_add_unique_item (name) SELECT concat('row ', seq) FROM seq_1_to_10050; ANALYZE TABLE case_add_unique_item");
    const small = classifyAll(env(), "-", 20000).listed.find((m) => m.name === "case_add_unique.0002_item_code")!;
    assert.equal(`${small.class} ${small.when}`, "before-switch expand", small.reason);
    assert.match(small.reason, /case_add_unique_item is small \(10051 rows, at most 20000: migrationSmallTableRows\)/);
    const refusal = classifyAll(env(), "-", 0).refusals.find((r) => r.includes(" case_add_unique.0002_item_code "));
    assert.match(
      refusal ?? "",
      /\(case_add_unique_item: (about \d{5} rows|more than 10000 rows), above the 0 rows of migrationSmallTableRows\); safe recipe: /,
    );
  });
});
