// The rollout plan as pure data: order, hosts, arguments, stdin, determinism. No Pulumi runtime.
import { strict as assert } from "assert";
import { ALL_OVERRIDES, AppForStack, RESERVED_ENV } from "../../config/catalog";
import { DEFAULT_DEPLOY_SETTINGS, deploySchema } from "../../config/deployConfig";
import {
  DATABASE,
  databaseStdin,
  envFileText,
  gitUrl,
  parseServing,
  platformEnv,
  renderCommand,
  RolloutError,
  rolloutPlan,
  RolloutPlan,
  STATIC_HOST,
  Step,
  waitCommand,
  installStdin,
} from "../../rollout/plan";
import { shellQuote } from "../../render/shellCommand";
import { RULES_LIBRARY_FILE } from "../../render/rulesLibrary";
import { GIT_ACCESS_MARKER } from "../../config/patterns";
import * as fs from "fs";
import { provisionFile } from "../../node/scripts";

const APP: AppForStack = {
  name: "polls",
  repo: "uni-it/polls",
  domain: "polls.example.edu",
  settings: "pollsite.settings",
  wsgi: "pollsite.wsgi:application",
  migrations: true,
  acknowledgeMigrations: [],
  tags: { alpha: "v2" },
  tag: "v2",
  env: { TIME_ZONE: "Europe/London" },
  secrets: ["SENTRY_DSN"],
  healthCheck: "/healthz",
  keepReleases: 3,
  port: 8123,
  overrides: ALL_OVERRIDES,
  deployChecks: "warn",
};
const NODES = ["node-1", "node-2", "node-3"];
const VERSION = "0123456789abcdef";
const ADDRESSES: Record<string, string> = {
  "node-1": "10.0.1.11",
  "node-2": "10.0.2.12",
  "node-3": "10.0.1.13",
  [STATIC_HOST]: "10.0.0.5",
  [DATABASE]: "db.example.internal",
  "@database-port": "5432",
  "@node-ssh-user": "deploy",
  "@node-ssh-port": "22",
};

const plan = (app: Partial<AppForStack> = {}, nodes = NODES) => rolloutPlan({ ...APP, ...app }, nodes, VERSION, DEFAULT_DEPLOY_SETTINGS);
const step = (p: RolloutPlan, name: string): Step => {
  const s = p.steps.find((x) => x.name === name);
  assert.ok(s, `no step ${name} in ${p.steps.map((x) => x.name).join(", ")}`);
  return s;
};
const command = (p: RolloutPlan, name: string) => renderCommand(p.scriptsDir, step(p, name).run!, ADDRESSES);

/** Every step that must have succeeded before `name` (transitively). */
function ancestors(p: RolloutPlan, name: string, seen = new Set<string>()): Set<string> {
  for (const d of step(p, name).dependsOn) {
    if (!seen.has(d)) {
      seen.add(d);
      ancestors(p, d, seen);
    }
  }
  return seen;
}

describe("rollout plan", () => {
  it("installs (prepares, then stages) on every node in parallel: no install waits for anything of the app", () => {
    const p = plan();
    for (const n of NODES) {
      assert.deepEqual(step(p, `polls-install-${n}`).dependsOn, []);
      assert.equal(
        command(p, `polls-install-${n}`),
        `sh ${p.scriptsDir}/install.sh --app app_polls --address ${ADDRESSES[n]} --port 8123 --wsgi pollsite.wsgi:application --workers 3 --timeout 30 --tag v2 ` +
          "--git-url git@github.com:uni-it/polls.git --pip-mode index --overrides database,hosts,static,secretKey,proxy,storage,debug --deploy-checks warn --health-path /healthz",
      );
    }
  });

  it("publishes static files once, from the first node to the nginx host with the app's publish key, after every node staged; the nginx host's replacement runs it again", () => {
    const p = plan();
    assert.equal(p.steps.filter((s) => s.phase === "static").length, 1);
    assert.equal(step(p, "polls-publish").host, "node-1");
    assert.deepEqual(step(p, "polls-publish").rerunWith, [STATIC_HOST]);
    const before = ancestors(p, "polls-publish");
    for (const n of NODES) assert.ok(before.has(`polls-install-${n}`));
    assert.equal(command(p, "polls-publish"), `sh ${p.scriptsDir}/static.sh app_polls v2 22 ${ADDRESSES[STATIC_HOST]}`);
  });

  it("migrates once, on the first node, before any switch; contracts once after the last switch", () => {
    const p = plan();
    assert.deepEqual(
      p.steps.filter((s) => s.run?.[0].script === "migrate.sh").map((s) => [s.name, s.host]),
      [
        ["polls-expand", "node-1"],
        ["polls-contract", "node-1"],
      ],
    );
    for (const n of NODES) assert.ok(ancestors(p, `polls-switch-${n}`).has("polls-expand"));
    const contract = ancestors(p, "polls-contract");
    for (const n of NODES) assert.ok(contract.has(`polls-switch-${n}`));
    // Lock timeout, statement timeout, retries, small-table rows (fleet:deploy's defaults), then the acknowledgements.
    assert.equal(command(p, "polls-expand"), `sh ${p.scriptsDir}/migrate.sh app_polls v2 expand 3 600 3 10000`);
    assert.equal(command(p, "polls-contract"), `sh ${p.scriptsDir}/migrate.sh app_polls v2 contract 3 600 3 10000`);
  });

  it("gives migrate.sh the app's own migration limits and its acknowledged migrations, else fleet:deploy's", () => {
    const p = plan({
      migrationLockTimeout: 1,
      migrationRetries: 0,
      migrationSmallTableRows: 0,
      acknowledgeMigrations: ["polls.0005_question_votes", "polls.0006_rename"],
    });
    for (const phase of ["expand", "contract"]) {
      assert.equal(
        command(p, `polls-${phase}`),
        `sh ${p.scriptsDir}/migrate.sh app_polls v2 ${phase} 1 600 0 0 polls.0005_question_votes polls.0006_rename`,
      );
    }
    const settings = {
      ...DEFAULT_DEPLOY_SETTINGS,
      ...deploySchema.parse({ migrationLockTimeout: 7, migrationStatementTimeout: 60, migrationRetries: 5, migrationSmallTableRows: 500 }),
    };
    const q = rolloutPlan({ ...APP, acknowledgeMigrations: [] }, NODES, VERSION, settings);
    assert.equal(command(q, "polls-expand"), `sh ${q.scriptsDir}/migrate.sh app_polls v2 expand 7 60 5 500`);
  });

  it("fleet:deploy's migration limits are whole numbers in range, else a message naming the range", () => {
    const message = (raw: unknown) => deploySchema.safeParse(raw).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    assert.deepEqual(message({ migrationLockTimeout: 0 }), ["migrationLockTimeout: must be a whole number from 1 to 3600"]);
    assert.deepEqual(message({ migrationRetries: 11 }), ["migrationRetries: must be a whole number from 0 to 10"]);
    assert.deepEqual(message({ migrationSmallTableRows: -1 }), ["migrationSmallTableRows: must be from 0 to 100000000 rows"]);
    assert.deepEqual(message({ migrationStatementTimeout: "10s" }), ["migrationStatementTimeout: must be a whole number from 1 to 86400"]);
  });

  it("switches one node at a time in node order, each after the previous one", () => {
    const p = plan();
    assert.deepEqual(
      step(p, "polls-switch-node-2").dependsOn.filter((d) => d.includes("switch")),
      ["polls-switch-node-1"],
    );
    assert.deepEqual(
      step(p, "polls-switch-node-3").dependsOn.filter((d) => d.includes("switch")),
      ["polls-switch-node-2"],
    );
    // Directly, not only through the chain: a node added (or replaced) re-runs its own steps
    // alone, the steps before it in the chain unchanged and done.
    for (const n of NODES) assert.ok(step(p, `polls-switch-${n}`).dependsOn.includes(`polls-install-${n}`), n);
    assert.deepEqual(
      step(p, "polls-contract").dependsOn,
      NODES.map((n) => `polls-switch-${n}`),
    );
    assert.equal(p.servingStep, "polls-switch-node-3");
    // A node serves (and enters the app's nginx upstream) only after its own switch, the step whose health check it passed.
    assert.deepEqual(p.servesAfter, { "node-1": "polls-switch-node-1", "node-2": "polls-switch-node-2", "node-3": "polls-switch-node-3" });
    for (const [node, name] of Object.entries(p.servesAfter)) assert.equal(step(p, name).host, node);
    assert.equal(
      command(p, "polls-switch-node-2"),
      `sh ${p.scriptsDir}/processes.sh check app_polls v2 && sh ${p.scriptsDir}/switch.sh app_polls v2 10.0.2.12 8123 polls.example.edu /healthz 30 && ` +
        `sh ${p.scriptsDir}/processes.sh apply app_polls v2 && sh ${p.scriptsDir}/prune.sh app_polls 3 v2`,
    );
  });

  it("prunes each node to keepReleases in its switch step, only once its switch succeeded", () => {
    const p = plan();
    for (const n of NODES) {
      const run = step(p, `polls-switch-${n}`).run!;
      assert.deepEqual(
        run.map((r) => r.script),
        ["processes.sh", "switch.sh", "processes.sh", "prune.sh"],
      );
      assert.deepEqual(run[3].args, ["app_polls", "3", "v2"]);
    }
    assert.equal(p.steps.filter((s) => (s.run ?? []).some((r) => r.script === "prune.sh")).length, NODES.length);
  });

  it("an app without migrations has no migrate steps and still switches after static", () => {
    const p = plan({ migrations: false });
    assert.equal(p.steps.filter((s) => s.run?.[0].script === "migrate.sh").length, 0);
    assert.ok(step(p, "polls-switch-node-1").dependsOn.includes("polls-publish"));
  });

  it("has per node one install and one switch, per app database, publish, expand and contract, nothing per host", () => {
    const p = plan();
    const perNode = (n: string) =>
      p.steps
        .filter((s) => s.host === n && !["polls-database", "polls-publish", "polls-expand", "polls-contract"].includes(s.name))
        .map((s) => s.name);
    for (const n of NODES) assert.deepEqual(perNode(n), [`polls-install-${n}`, `polls-switch-${n}`]);
    assert.equal(p.steps.length, 2 * NODES.length + 4);
    assert.equal(p.scriptsDir, `/srv/fleet/scripts_${VERSION}`, "one scripts directory per host and version, shared by every app");
  });

  it("takes over the state of the steps it was merged from: their delete commands never run on an upgrade", () => {
    const p = plan();
    const former = Object.fromEntries(p.steps.filter((s) => s.formerNames).map((s) => [s.name, s.formerNames]));
    assert.deepEqual(former, {
      "polls-install-node-1": ["polls-prepare-node-1"],
      "polls-install-node-2": ["polls-prepare-node-2"],
      "polls-install-node-3": ["polls-prepare-node-3"],
      "polls-publish": ["polls-webroot"],
    });
    // Each takes over a step with the same trigger (a changed trigger would replace it and run the
    // old delete): the install steps on their own node; publish, which ran on the nginx host and
    // now runs on the first node, keeps the nginx host's trigger.
    assert.deepEqual(step(p, "polls-publish").rerunWith, [STATIC_HOST]);
    for (const n of NODES) assert.equal(step(p, `polls-install-${n}`).host, n);
    // No new name is an old one (Pulumi matches by name before aliases).
    const oldNames = ["prepare", "stage", "static", "webroot", "prune", "wait", "copy"];
    for (const s of p.steps) assert.ok(!oldNames.some((o) => s.name.startsWith(`polls-${o}`)), s.name);
  });

  it("secrets reach only the steps that need them, and only on stdin", () => {
    const p = plan();
    const withStdin = p.steps.filter((s) => s.stdin).map((s) => `${s.name}:${s.stdin}`);
    assert.deepEqual(withStdin, [
      "polls-database:database",
      "polls-install-node-1:install",
      "polls-install-node-2:install",
      "polls-install-node-3:install",
      "polls-publish:publishKey",
    ]);
  });

  it("is deterministic, and a tag bump changes only the release steps' commands", () => {
    const render = (p: RolloutPlan) =>
      new Map(p.steps.map((s) => [s.name, s.run ? renderCommand(p.scriptsDir, s.run, ADDRESSES) : s.phase]));
    assert.deepEqual(render(plan()), render(plan()));
    const a = render(plan({ tag: "v2" }));
    const b = render(plan({ tag: "v3" }));
    const changed = [...a.keys()].filter((k) => a.get(k) !== b.get(k)).map((k) => k.replace(/-node-\d$/, "-*"));
    assert.deepEqual([...new Set(changed)].sort(), [
      "polls-contract",
      "polls-expand",
      "polls-install-*",
      "polls-publish",
      "polls-switch-*",
    ]);
  });

  it("names every step after the app, so two apps never collide", () => {
    const names = [...plan().steps, ...plan({ name: "library" }).steps].map((s) => s.name);
    assert.equal(new Set(names).size, names.length);
  });

  it("deletes the app's files from the nodes only when a step is removed (the nginx host's sites step removes its static files)", () => {
    const p = plan();
    assert.equal(
      renderCommand(p.scriptsDir, step(p, "polls-install-node-1").remove!, ADDRESSES),
      `sh ${p.scriptsDir}/prepare.sh --remove app_polls`,
    );
    assert.deepEqual(
      p.steps
        .filter((s) => s.remove)
        .map((s) => s.name)
        .sort(),
      [...NODES.map((n) => `polls-install-${n}`), ...NODES.map((n) => `polls-switch-${n}`)],
    );
    // A switch step's delete stops and removes the app's processes and schedules on its node.
    assert.equal(
      renderCommand(p.scriptsDir, step(p, "polls-switch-node-1").remove!, ADDRESSES),
      `sh ${p.scriptsDir}/processes.sh remove app_polls`,
    );
  });

  it("refuses what it cannot roll out, with one clear message", () => {
    assert.throws(() => plan({ tag: "latest" }), /polls: tag "latest" must be resolved/);
    assert.throws(() => plan({}, []), /polls: no app nodes/);
    assert.throws(() => plan({}, ["node-1", "node-1"]), /listed twice/);
    assert.throws(
      () => plan({}, ["node 1"]),
      (e: Error) => e instanceof RolloutError && /node name "node 1" is not allowed/.test(e.message),
    );
    assert.throws(() => renderCommand("/x", { script: "s.sh", args: [{ addressOf: "node-9" }] }, ADDRESSES), /no address known for node-9/);
    assert.throws(
      () => renderCommand("/x", { script: "s.sh", args: [{ addressOf: "node-1" }] }, { "node-1": "1.2.3.4; rm -rf /" }),
      /is not allowed/,
    );
  });
});

describe("rollout plan: values for the nodes", () => {
  it("quotes words for sh so that no value can run anything", () => {
    assert.equal(shellQuote("v1.2"), "v1.2");
    assert.equal(shellQuote("it's $(x)"), `'it'\\''s $(x)'`);
  });

  it("writes the environment file as sorted NAME='value' lines, the platform's names winning", () => {
    const db = { engine: "postgres" as const, host: "db", port: 5432, password: "p@ss/word" };
    const media = { bucket: "fleet-alpha-polls", region: "eu-central-1" };
    const env = platformEnv({ ...APP, name: "polls-app" }, db, "k'ey", media);
    const text = envFileText({ ...APP.env, SENTRY_DSN: "https://x@y/1", ...env });
    assert.equal(
      text,
      [
        "ALLOWED_HOSTS='polls.example.edu'",
        "AWS_S3_REGION_NAME='eu-central-1'",
        "AWS_STORAGE_BUCKET_NAME='fleet-alpha-polls'",
        "DATABASE_URL='postgres://app_polls_app:p%40ss%2Fword@db:5432/app_polls_app'",
        "DB_HOST='db'",
        "DB_NAME='app_polls_app'",
        "DB_PASSWORD='p@ss/word'",
        "DB_PORT='5432'",
        "DB_USER='app_polls_app'",
        "DJANGO_SECRET_KEY='k'\\''ey'",
        "DJANGO_SETTINGS_MODULE='pollsite.settings'",
        "FLEET_APP='polls-app'",
        "FLEET_APP_SETTINGS='pollsite.settings'",
        "SECRET_KEY='k'\\''ey'",
        "SENTRY_DSN='https://x@y/1'",
        "SITE_URL='http://polls.example.edu'",
        "STATIC_URL='/static/'",
        "TIME_ZONE='Europe/London'",
        "",
      ].join("\n"),
    );
    assert.throws(() => envFileText({ A: "two\nlines" }), /single line/);
    assert.equal(platformEnv(APP, db, "key", media, true).SITE_URL, "https://polls.example.edu", "an app with a certificate");
    // Every platform name is reserved in the catalog, so apps.yaml cannot override one.
    for (const name of Object.keys(env)) assert.ok(RESERVED_ENV.includes(name), `${name} is not in RESERVED_ENV`);
  });

  it("stage gets the overrides that are on, the deploy checks' policy and the health path (recorded in the release)", () => {
    const stage = (app: Partial<AppForStack>) => {
      const args = plan(app).steps.find((s) => s.name === "polls-install-node-1")!.run![0].args;
      return ["--overrides", "--deploy-checks", "--health-path"].map((name) => args[args.indexOf(name) + 1]);
    };
    assert.deepEqual(stage({}), ["database,hosts,static,secretKey,proxy,storage,debug", "warn", "/healthz"]);
    assert.deepEqual(stage({ overrides: { ...ALL_OVERRIDES, storage: false, hosts: false }, deployChecks: "fail" }), [
      "database,static,secretKey,proxy,debug",
      "fail",
      "/healthz",
    ]);
    const none = Object.fromEntries(Object.keys(ALL_OVERRIDES).map((k) => [k, false])) as typeof ALL_OVERRIDES;
    assert.deepEqual(stage({ overrides: none }), ["none", "warn", "/healthz"]);
  });

  it("a MySQL app's DATABASE_URL and DB_* names", () => {
    const env = platformEnv(APP, { engine: "mysql", host: "db", port: 3306, password: "pw" }, "k", { bucket: "b", region: "r" });
    assert.equal(env.DATABASE_URL, "mysql://app_polls:pw@db:3306/app_polls");
    assert.deepEqual([env.DB_HOST, env.DB_PORT, env.DB_NAME, env.DB_USER, env.DB_PASSWORD], ["db", "3306", "app_polls", "app_polls", "pw"]);
  });

  it("builds git URLs and database stdin; reads what serves from switch.sh's output", () => {
    assert.equal(gitUrl(DEFAULT_DEPLOY_SETTINGS.gitUrlTemplate, APP), "git@github.com:uni-it/polls.git");
    assert.equal(gitUrl("file:///srv/git/{name}.git", APP), "file:///srv/git/polls.git");
    assert.equal(databaseStdin("master", "pw", "app"), "master\npw\napp\n");
    assert.throws(() => databaseStdin("master", "p\nw", "app"), /single lines/);
    const commit = "a".repeat(40);
    assert.deepEqual(parseServing(`v2 ${commit}\n`), { tag: "v2", commit });
    assert.equal(parseServing(undefined), undefined);
    assert.equal(parseServing("garbage"), undefined);
  });

  it("the first command on a host only waits for cloud-init and makes the scripts directory", () => {
    const w = waitCommand(provisionFile("wait-for-cloud-init.sh"));
    assert.match(w, /cloud-init status --wait/);
    // an app node through its node helper (its deploy user's only sudo right), an nginx host directly
    assert.match(
      w,
      /if \[ -x \/usr\/local\/sbin\/fleet-node \]; then sudo -n \/usr\/local\/sbin\/fleet-node scripts-root; else sudo install -d -o "\$\(id -un\)" -m 0755 \/srv\/fleet; fi$/,
    );
  });

  it("install.sh's stdin: the environment file, the marker line of config/patterns.ts, then the git access", () => {
    const env = envFileText({ A: "1", B: "two words" });
    assert.equal(
      installStdin(env, "KEY\nhost ssh-ed25519 AAA\n"),
      `A='1'\nB='two words'\n${GIT_ACCESS_MARKER}\nKEY\nhost ssh-ed25519 AAA\n`,
    );
    assert.equal(installStdin(env, ""), `${env}${GIT_ACCESS_MARKER}\n`);
    assert.throws(() => installStdin(`${GIT_ACCESS_MARKER}\n`, ""), /holds the line/);
    // lib-rules.sh has the same marker for install.sh (generated; a test fails when stale)
    assert.match(fs.readFileSync(RULES_LIBRARY_FILE, "utf8"), new RegExp(`^FLEET_GIT_ACCESS_MARKER=${GIT_ACCESS_MARKER}$`, "m"));
  });
});
