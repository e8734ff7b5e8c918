// The derivation of app identities (config/identity.ts) as a table: every Debian system account
// name and the platform's own users as app names, and random valid names; no derived identity
// is a system account, a platform user or directory, or another app's.
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { createHash, randomInt } from "crypto";
import * as fs from "fs";
import { NAME_PATTERN, parseCatalog, formatError } from "../../config/catalog";
import { appIdentity, appResourceName, bucketName, OS_USER_PATTERN } from "../../config/identity";
import { ROLLOUT_SCRIPTS_DIR } from "../../node/scripts";

/** Every account name this machine and Debian's base-passwd know. */
function systemAccounts(): string[] {
  const fromPasswd = (text: string) =>
    text
      .split("\n")
      .map((l) => l.split(":")[0])
      .filter(Boolean);
  const names = new Set(fromPasswd(execFileSync("getent", ["passwd"], { encoding: "utf8" })));
  const groups = new Set(
    execFileSync("getent", ["group"], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.split(":")[0])
      .filter(Boolean),
  );
  for (const file of ["/usr/share/base-passwd/passwd.master", "/usr/share/base-passwd/group.master"]) {
    if (fs.existsSync(file)) for (const n of fromPasswd(fs.readFileSync(file, "utf8"))) names.add(n);
  }
  return [...names, ...groups];
}

/** The platform's own users and roles: the SSH user, the database masters, service users. */
const PLATFORM_USERS = [
  "deploy",
  "root",
  "ubuntu",
  "admin",
  "postgres",
  "www-data",
  "nginx",
  "mysql",
  "mariadb.sys",
  "mysql.sys",
  "rdsadmin",
  "rds_superuser",
  "fleetadmin",
  "fleet",
];
const PLATFORM_DIRS = ["/srv/fleet", "/srv", "/var/www", "/var/www/html", "/home"];

function randomName(): string {
  const inner = "abcdefghijklmnopqrstuvwxyz0123456789-";
  const length = randomInt(3, 33);
  let name = "abcdefghijklmnopqrstuvwxyz"[randomInt(26)];
  for (let i = 1; i < length - 1; i++) name += inner[randomInt(inner.length)];
  return name + "abcdefghijklmnopqrstuvwxyz0123456789"[randomInt(36)];
}

/** Every name an identity takes, by kind. */
function derivedNames(app: string): Record<string, string> {
  const id = appIdentity(app);
  return {
    osUser: id.osUser,
    osGroup: id.osGroup,
    home: id.home,
    webRoot: id.webRoot,
    database: id.database,
    databaseRole: id.databaseRole,
    media: bucketName("uni-fleet", "production", app, "media"),
    replica: bucketName("uni-fleet", "production", app, "media-dr"),
    resource: appResourceName(app, "media"),
    replicaResource: appResourceName(app, "media-replica"),
  };
}

/** Two long names (27+ characters, same first 18) whose hashes meet: what the catalog must refuse. */
function hashCollision(): [string, string] {
  const seen = new Map<string, string>();
  const head = "research-archive-x";
  for (let i = 0; ; i++) {
    const name = `${head}${i.toString(36).padStart(10, "0")}`;
    const id = appIdentity(name).osUser;
    const other = seen.get(id);
    if (other) return [other, name];
    seen.set(id, name);
  }
}

describe("app identities (config/identity.ts)", () => {
  const accounts = systemAccounts();
  const taken = new Set([...accounts, ...PLATFORM_USERS]);

  it("knows this machine's accounts (the table below is not empty)", () => {
    for (const n of ["root", "news", "backup", "list", "proxy", "www-data", "postgres"]) assert.ok(accounts.includes(n), n);
  });

  it("gives every system account name and platform user that is a valid app name identities no account or directory has", () => {
    const asApps = [...taken].filter((n) => NAME_PATTERN.test(n));
    assert.ok(asApps.length >= 20, `only ${asApps.length} account names are valid app names: ${asApps.join(" ")}`);
    for (const app of asApps) {
      const d = derivedNames(app);
      for (const value of [d.osUser, d.osGroup, d.database, d.databaseRole])
        assert.ok(!taken.has(value), `${app}: ${value} is an existing account or platform user`);
      for (const dir of [d.home, d.webRoot]) {
        assert.ok(
          !PLATFORM_DIRS.some((p) => dir === p || p.startsWith(`${dir}/`) || dir.startsWith("/srv/fleet")),
          `${app}: ${dir} is or holds a platform directory`,
        );
      }
      assert.notEqual(d.osUser, app);
    }
  });

  it("derives names within every system's limits, in the shapes the node scripts accept", () => {
    const names = [
      "abc",
      "news",
      "a".repeat(26),
      "b".repeat(27),
      `x${"-9".repeat(15)}z`,
      "z".repeat(32),
      ...Array.from({ length: 300 }, randomName),
    ];
    for (const app of names) {
      assert.ok(NAME_PATTERN.test(app), app);
      const id = appIdentity(app);
      assert.match(id.osUser, OS_USER_PATTERN);
      assert.ok(id.osUser.length <= 31, `${id.osUser}: Linux/systemd user names are at most 31 characters`);
      assert.match(id.database, /^[a-z_][a-z0-9_]{0,30}$/, "PostgreSQL/MySQL identifier without quoting, at most 31 (MySQL users: 32)");
      assert.equal(id.home, `/srv/${id.osUser}`);
    }
    // The node scripts' own checks take exactly these (the catalog name itself is refused there).
    const sample = names.slice(0, 40).map(appIdentity);
    const script = `here=${ROLLOUT_SCRIPTS_DIR}; . "$here/lib.sh"; for u in "$@"; do check_os_user "$u"; done`;
    assert.equal(spawnSync("sh", ["-c", script, "sh", ...sample.map((i) => i.osUser)], { encoding: "utf8" }).status, 0);
    const refused = spawnSync("sh", ["-c", script, "sh", "deploy"], { encoding: "utf8" });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /app user 'deploy' is not allowed/);
  });

  it("never derives the same identity for two random valid names", () => {
    const byKind = new Map<string, Map<string, string>>();
    const names = new Set(Array.from({ length: 20000 }, randomName));
    for (const n of ["polls", "polls-replica", "polls-dr", "polls-media", "polls-media-dr", "a--b", "a-b"]) names.add(n);
    for (const app of names) {
      for (const [kind, value] of Object.entries(derivedNames(app))) {
        const seen = byKind.get(kind) ?? new Map<string, string>();
        byKind.set(kind, seen);
        assert.equal(seen.get(value) ?? app, app, `${kind} ${value} is derived for both ${seen.get(value)} and ${app}`);
        seen.set(value, app);
      }
    }
    // Across kinds too: no app's primary bucket is another's replica, no resource another's.
    const buckets = [...byKind.get("media")!.keys(), ...byKind.get("replica")!.keys()];
    assert.equal(new Set(buckets).size, buckets.length);
    const resources = [...byKind.get("resource")!.keys(), ...byKind.get("replicaResource")!.keys()];
    assert.equal(new Set(resources).size, resources.length);
  });

  it("keeps short names readable and shortens long ones with a hash of the whole name", () => {
    assert.deepEqual(appIdentity("polls-replica"), {
      app: "polls-replica",
      osUser: "app_polls-replica",
      osGroup: "app_polls-replica",
      home: "/srv/app_polls-replica",
      webRoot: "/var/www/app_polls-replica",
      database: "app_polls_replica",
      databaseRole: "app_polls_replica",
    });
    const long = "institutional-repository-mirror";
    const hash = createHash("sha256").update(long).digest("hex").slice(0, 8);
    assert.equal(appIdentity(long).osUser, `app_institutional-repo-${hash}`);
  });

  it("the catalog refuses two names whose shortened identities meet, in one line naming both", () => {
    const [a, b] = hashCollision();
    const app = (name: string, port: number) => [
      `  - name: ${name}`,
      `    repo: uni-it/${name}`,
      `    domain: ${name}.example.edu`,
      "    settings: s.settings",
      "    wsgi: s.wsgi:application",
      `    port: ${port}`,
      "    tags: { alpha: v1 }",
    ];
    const text = ["apps:", ...app(a, 8001), ...app(b, 8002), ""].join("\n");
    const errors = parseCatalog(text, "apps.yaml", { knownStacks: ["alpha"] }).errors.map(formatError);
    assert.deepEqual(errors, [
      `apps.yaml:9:11: ${b}.name: derives the same OS user and database (${appIdentity(a).osUser}) as apps[0] (${a}): change one name's first 18 characters`,
    ]);
  });
});
