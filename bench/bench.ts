// npm run bench: the rollout's figures, as `name: value` lines on stdout (progress on stderr).
//
// Real nodes (testbed/, the e2e test bed, needs root): the v1 -> v2 rollout under continuous load
// through nginx, staging cold (first install) and warm (new tag, same requirements), and the
// same upgrade done the old Fabric way on the same nodes and load, as the baseline.
// Migrations (`npm run bench -- migrations`, its own cluster): v6 -> v7 (a RemoveField release)
// under the same load: the column is dropped after the last switch, so the old code never misses it. Then v7 -> v8 (a NOT NULL field with a constant
// default) while the old code inserts rows: the default is kept until contract. And the lock time
// of locking migrations at migrationSmallTableRows rows, the default's measurement.
// systemd: the same nodes with systemd as PID 1 (the production process manager, the plan's own
// gunicorn@.service): v1, then a release with new requirements (a new virtualenv: a new master the
// unit follows) and one with the same virtualenv and a slow import, each under the same load.
// Disaster recovery: 20 apps (the fixture under 20 names) onto empty nodes in one run with every
// step started as soon as it may (pulumi up's unbounded parallelism), until each serves through
// nginx; how many steps failed (or could not run after a failure), and the most heavy-work slots held at once on a node, from the
// nodes' own logs.
// The edge: two nginx hosts behind the test bed's stand-in for the NLB (haproxy, health-checked TCP
// passthrough); one host lost (its machine killed) under continuous load through the balancer.
// Node replacement: a new machine replaces node-1 of a two-node stack under the same load (the
// new node joins the upstream after its switch, the old one leaves and drains before it goes).
// Offline plan: how many resources a one-tag bump changes in a 50-app catalog, and how long
// the plan of 20 and of 200 apps takes.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { diffPlans, Plan, runPlan, runPlanMeasured } from "../offline/plan";
import { DEFAULT_DEPLOY_SETTINGS } from "../config/deployConfig";
import { Cluster, ClusterOptions, NodeHandle, startCluster } from "../testbed/cluster";
import { ApplyResult } from "../testbed/executor";
import { EDGE_LOSS_WINDOW, loseEdgeHostUnderLoad } from "../testbed/edge";
import { heavyLogOf, summarizeHeavyLog } from "../testbed/heavyWork";
import { APP, APP_IDENTITY, DOMAIN, fixtureFleetCatalog, fixtureFleetRepo, get, Load, LocalStack } from "../testbed/localStack";
import { pushNewVenvTag, pushSlowImportTag, SLOW_IMPORT_SECONDS } from "../testbed/fixtureTags";
import { codeServedOn, naiveFabricDeploy } from "./realNodes";
import {
  expectCommandsOk,
  expectFailure,
  expectLoad,
  expectOk,
  expectServing,
  expectStepsRan,
  expectThat,
  figureValue,
  LoadCounts,
  MIN_LOAD_REQUESTS,
  ScenarioError,
} from "./scenario";

const say = (line: string) => process.stderr.write(`bench: ${line}\n`);
const figures: [string, string][] = [];

/** Every app node runs the app's gunicorn as the systemd unit (the part's point), else it fails. */
async function mustRunUnderSystemd(cluster: Cluster): Promise<void> {
  const runs = await Promise.all(cluster.appNodes.map((n) => cluster.exec(n, `systemctl is-active gunicorn@${APP_IDENTITY.osUser}`)));
  expectCommandsOk(
    `gunicorn@${APP_IDENTITY.osUser} active under systemd`,
    Object.fromEntries(cluster.appNodes.map((n, i) => [n.name, runs[i]])),
  );
}
const figure = (name: string, value: number | string) => figures.push([name, figureValue(name, value)]);

/** The slowest node's install (prepare + stage) step of a run, in seconds (they run in parallel). */
function stageSeconds(r: ApplyResult): number {
  const stages = r.ran.filter((x) => x.name.startsWith(`${APP}-install-`));
  if (stages.length === 0) throw new Error("no stage step ran");
  return Math.max(...stages.map((x) => x.ms)) / 1000;
}

const must = (r: ApplyResult, what: string): ApplyResult => expectOk(what, r);

/** `tag` serves on every one of `nodes` (their own gunicorn, asked directly), else the part fails. */
async function mustServe(what: string, nodes: NodeHandle[], tag: string): Promise<void> {
  expectServing(what, await codeServedOn(nodes), tag);
}

/** The load's counts once stopped, said, and checked to have run through the scenario. */
async function loadOf(what: string, load: Load): Promise<LoadCounts> {
  const counts = await load.stop();
  say(`${what}: ${counts.requests} requests, ${counts.failed} failed ${counts.failures.slice(0, 3).join(" | ")}`);
  return expectLoad(what, counts);
}

/** A bench part's scene: a test-bed cluster, a LocalStack in `work/<dir>` with v1 deployed
 *  (`what` says so), then `run`; the cluster is stopped whatever happens. */
async function withV1(
  opts: ClusterOptions,
  work: string,
  dir: string,
  what: string,
  run: (cluster: Cluster, stack: LocalStack, v1: ApplyResult) => Promise<void>,
): Promise<void> {
  const cluster = await startCluster(opts);
  try {
    const stack = new LocalStack(cluster, path.join(work, dir));
    say(what);
    await run(cluster, stack, must(await stack.up("v1"), "v1"));
  } finally {
    await cluster.stop();
  }
}

async function onRealNodes(work: string): Promise<void> {
  await withV1({ appNodeCount: 2 }, work, "stack", "fresh deploy of v1 (cold stage)", async (cluster, stack, cold) => {
    expectStepsRan("the cold stage of v1", cold, `${APP}-install-`, cluster.appNodes.length);
    await mustServe("v1", cluster.appNodes, "v1");
    say("v1 -> v2 under load");
    const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    must(await stack.up("v2"), "v2");
    const rollout = await loadOf("rollout", load);
    await mustServe("the rollout to v2", cluster.appNodes, "v2");
    figure("rollout_requests", rollout.requests);
    figure("rollout_failed_requests", rollout.failed);
    // Warm: a new tag with the same requirements, staged without load, like the cold one
    // (v3 stages fine; its migration then fails and no node moves, which is all the better).
    say("stage v3 (warm: same requirements as v1 and v2)");
    const warm = expectFailure("the warm stage of v3", await stack.up("v3"), /headline/);
    expectStepsRan("the warm stage of v3", warm, `${APP}-install-`, cluster.appNodes.length);
    await mustServe("v3's failed migration (no node moves)", cluster.appNodes, "v2");
    figure("stage_cold_s", stageSeconds(cold));
    figure("stage_warm_s", stageSeconds(warm));
    figure("stage_warm_over_cold", stageSeconds(warm) / stageSeconds(cold));

    say("back to v1, then v1 -> v2 the old Fabric way under the same load");
    must(await stack.up("v1"), "rollback to v1");
    await mustServe("the rollback to v1", cluster.appNodes, "v1");
    const naiveLoad = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    const runs = await naiveFabricDeploy(cluster, "v2");
    const naive = await loadOf("naive", naiveLoad);
    expectCommandsOk("the Fabric-style deploy of v2", runs);
    await mustServe("the Fabric-style deploy of v2", cluster.appNodes, "v2");
    figure("naive_rollout_failed_requests", naive.failed);
  });
}

/** The migration gate on real nodes: v1 -> v6, then v6 -> v7 (RemoveField: the drop waits for the
 *  contract step, after the last switch) under load, v7 -> v8 (keep-default) while the old code
 *  inserts rows, and the lock time behind migrationSmallTableRows. */
async function migrations(work: string): Promise<void> {
  await withV1({ appNodeCount: 2 }, work, "migrations", "migrations: fresh deploy of v1, then v6", async (cluster, stack) => {
    must(await stack.up("v6"), "v6");
    await mustServe("v6", cluster.appNodes, "v6");
    say("v6 -> v7 (RemoveField) under load");
    const removeLoad = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    must(await stack.up("v7"), "v7");
    const remove = await loadOf("remove field", removeLoad);
    await mustServe("v7 (RemoveField)", cluster.appNodes, "v7");
    figure("migration_remove_field_requests", remove.requests);
    figure("migration_remove_field_failed_requests", remove.failed);

    await addDefaultUnderInserts(cluster, stack);
    await smallTableLock(stack);
  });
}

/** v7 -> v8 (a NOT NULL field with a constant default, no acknowledgement) while the old code
 *  inserts rows (/ask) and pages load: the platform keeps the default from expand to contract. */
async function addDefaultUnderInserts(cluster: Cluster, stack: LocalStack): Promise<void> {
  say("v7 -> v8 (AddField with a constant default) while the old code inserts rows");
  const inserts = new Load(`http://${cluster.staticHost.address}/ask`, DOMAIN, 2);
  const pages = new Load(`http://${cluster.staticHost.address}/`, DOMAIN, 2);
  const r = must(await stack.up("v8"), "v8");
  const written = expectLoad("the inserts during v7 -> v8", await inserts.stop());
  const read = expectLoad("the page loads during v7 -> v8", await pages.stop());
  await mustServe("v8 (AddField with a constant default)", cluster.appNodes, "v8");
  // The scenario really ran: expand kept the default, contract dropped it, the old code inserted.
  const expand = r.ran.find((x) => x.name === `${APP}-expand`)?.stderr ?? "";
  const contract = r.ran.find((x) => x.name === `${APP}-contract`)?.stderr ?? "";
  expectThat(
    /kept the database default of polls_question\.votes until contract/.test(expand),
    `v8's expand step kept no default: ${expand}`,
  );
  expectThat(
    /dropped the database defaults kept since expand: polls_question\.votes/.test(contract),
    `v8's contract step dropped no default: ${contract}`,
  );
  say(
    `add default: ${written.requests} inserts (${written.failed} failed), ${read.requests} page requests (${read.failed} failed) ${[...written.failures, ...read.failures].slice(0, 3).join(" | ")}`,
  );
  figure("migration_add_default_requests", written.requests + read.requests);
  figure("migration_add_default_failed_requests", written.failed + read.failed);
}

/** How long the locking operations a small table may take (migrationSmallTableRows) hold their
 *  lock on the test bed's PostgreSQL, at the default threshold: the slowest of a non-concurrent
 *  index, a unique constraint and int -> bigint (AutoField -> BigAutoField: a rewrite). */
async function smallTableLock(stack: LocalStack): Promise<void> {
  const rows = DEFAULT_DEPLOY_SETTINGS.migrationSmallTableRows;
  say(`lock time of locking migrations on a table of ${rows} rows`);
  const ms = await stack.appQuery(`
CREATE TABLE fleet_bench_lock (id serial PRIMARY KEY, text varchar(200) NOT NULL, published timestamptz NOT NULL);
INSERT INTO fleet_bench_lock (text, published) SELECT 'question ' || g, now() - g * interval '1 minute' FROM generate_series(1, ${rows}) g;
ANALYZE fleet_bench_lock;
CREATE FUNCTION pg_temp.lock_ms(statement text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE started timestamptz := clock_timestamp();
BEGIN EXECUTE statement; RETURN extract(epoch FROM clock_timestamp() - started)::numeric * 1000; END $$;
SELECT greatest(pg_temp.lock_ms('CREATE INDEX fleet_bench_lock_text ON fleet_bench_lock (text)'),
  pg_temp.lock_ms('ALTER TABLE fleet_bench_lock ADD CONSTRAINT fleet_bench_lock_published UNIQUE (published)'),
  pg_temp.lock_ms('ALTER TABLE fleet_bench_lock ALTER COLUMN id TYPE bigint'));
DROP TABLE fleet_bench_lock;`);
  const measured = Number(ms);
  expectThat(Boolean(ms) && Number.isFinite(measured) && measured > 0, `the lock time was not measured: ${JSON.stringify(ms)}`);
  figure("migration_small_table_rows", rows);
  figure("migration_small_table_lock_ms", measured);
}

/** A new machine replaces node-1 under continuous load through nginx, as `pulumi up --replace` of its instance would. */
async function nodeReplacement(work: string): Promise<void> {
  await withV1(
    { appNodeCount: 2, spareNodeCount: 1 },
    work,
    "nodes",
    "node replacement: v1 on two nodes, then a new machine replaces node-1 under load",
    async (cluster, stack) => {
      stack.nodes = [cluster.spareNodes[0], cluster.appNodes[1]];
      const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
      const started = Date.now();
      const replaced = must(await stack.up("v1"), "the replacement of node-1");
      const counts = await loadOf(`node replacement (${(Date.now() - started) / 1000} s)`, load);
      expectThat(
        replaced.ran.some((x) => x.op === "create"),
        "the replacement of node-1: nothing was created for the new machine",
      );
      await mustServe("the replacement of node-1", stack.nodes, "v1");
      figure("node_replacement_requests", counts.requests);
      figure("node_replacement_failed_requests", counts.failed);
    },
  );
}

async function onSystemdNodes(work: string): Promise<void> {
  await withV1({ appNodeCount: 2, init: "systemd" }, work, "systemd", "systemd nodes: fresh deploy of v1", async (cluster, stack) => {
    pushNewVenvTag(cluster, "v2", "v2-venv");
    pushSlowImportTag(cluster, "v2-venv", "v2-slow");
    const underLoad = async (tag: string, what: string, name: string) => {
      say(`systemd nodes: ${what} under load`);
      const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
      must(await stack.up(tag), tag);
      const counts = await loadOf(`systemd ${what}`, load);
      await mustServe(`systemd ${what}`, cluster.appNodes, tag);
      await mustRunUnderSystemd(cluster);
      figure(`${name}_requests_systemd`, counts.requests);
      figure(`${name}_failed_requests_systemd`, counts.failed);
    };
    await underLoad("v2-venv", "v1 -> v2-venv (new virtualenv)", "venv_change");
    await underLoad("v2-slow", `v2-venv -> v2-slow (same virtualenv, a ${SLOW_IMPORT_SECONDS} s import)`, "slow_import_reload");
  });
}

const DR_APPS = 20;

/** `pulumi up` of a whole suite onto empty nodes, as a recovery runs it. */
async function disasterRecovery(work: string): Promise<void> {
  const cluster = await startCluster({ appNodeCount: 2 });
  try {
    const stack = new LocalStack(cluster, path.join(work, "dr"));
    stack.appSecrets = {}; // the fixture's copies list no secrets
    const names = Array.from({ length: DR_APPS }, (_, i) => `dr-app-${String(i + 1).padStart(2, "0")}`);
    say(`disaster recovery: ${DR_APPS} apps onto ${cluster.appNodes.length} empty nodes in one run`);
    const started = Date.now();
    cluster.serveFixtureAs(names.map(fixtureFleetRepo));
    const r = await stack.up(fixtureFleetCatalog(names, "v1", 8500));
    const failed = r.ran.filter((x) => !x.ok);
    say(
      `dr: ${r.ran.length} steps, ${failed.length} failed, ${r.skipped.length} skipped, ${r.ran.reduce((n, x) => n + x.failedDials, 0)} dials refused and dialled again${r.error ? `; first failure: ${r.error}` : ""}`,
    );
    expectThat(r.ran.length > 0, "disaster recovery: no step ran");
    // Until every app answers through nginx on its domain (a failed rollout never does: bounded).
    const serving = new Set<string>();
    while (r.ok && serving.size < names.length && Date.now() - started < 30 * 60_000) {
      for (const name of names.filter((n) => !serving.has(n))) {
        if ((await get(`http://${cluster.staticHost.address}/healthz`, `${name}.example.edu`)).status === 200) serving.add(name);
      }
    }
    say(`dr: ${serving.size} of ${names.length} apps serve through nginx`);
    expectThat(
      serving.size === names.length,
      `disaster recovery: ${serving.size} of ${names.length} apps serve through nginx${r.error ? `; first failure: ${r.error}` : ""}`,
    );
    figure("dr_seconds_20_apps", (Date.now() - started) / 1000);
    figure("dr_failed_steps", failed.length + r.skipped.length);
    const peaks: number[] = [];
    for (const node of cluster.appNodes) {
      const s = summarizeHeavyLog(await heavyLogOf(cluster, node));
      say(
        `dr: ${node.name}: ${s.started} heavy commands, at most ${s.peak} at once (slots used: ${s.highestSlot}; the node has ${os.cpus().length} CPUs here)`,
      );
      expectThat(
        s.started >= DR_APPS,
        `disaster recovery: ${node.name}'s heavy-work log has ${s.started} commands, fewer than one per app (${DR_APPS}): the peak would not be the run's`,
      );
      peaks.push(s.peak);
    }
    figure("dr_peak_parallel_stage_per_node", Math.max(...peaks));
  } finally {
    await cluster.stop();
  }
}

/** Losing one of two nginx hosts under load through the balancer: requests sent, and failed. */
async function edgeHostLoss(work: string): Promise<void> {
  await withV1(
    { appNodeCount: 1, staticHostCount: 2 },
    work,
    "edge",
    "edge: v1 on one node behind two nginx hosts and the balancer",
    async (cluster, stack) => {
      say(
        `edge: killing ${cluster.staticHosts[1].name} after ${EDGE_LOSS_WINDOW.beforeMs / 1000} s of load, ${EDGE_LOSS_WINDOW.afterMs / 1000} s more after it`,
      );
      const loss = await loseEdgeHostUnderLoad(stack, cluster.staticHosts[1], EDGE_LOSS_WINDOW);
      say(
        `edge: ${loss.requests} requests, ${loss.failed} failed, ${loss.answeredAfterLoss} answered after the loss; balancer: ${JSON.stringify(loss.states)}; ${loss.failures.slice(0, 3).join(" | ")}`,
      );
      expectLoad("edge", loss);
      expectThat(
        loss.answeredAfterLoss >= MIN_LOAD_REQUESTS,
        `edge: ${loss.answeredAfterLoss} requests answered after ${cluster.staticHosts[1].name} was lost: the load did not go on after the loss`,
      );
      const lostState = loss.states[cluster.staticHosts[1].name] ?? "";
      expectThat(
        /DOWN/.test(lostState),
        `edge: the balancer still has ${cluster.staticHosts[1].name} as ${lostState || "unknown"} at the end: the host was not lost`,
      );
      figure("edge_host_loss_requests", loss.requests);
      figure("edge_host_loss_failed_requests", loss.failed);
    },
  );
}

/** A catalog of `n` generated apps on `stack` (alpha); `bumped` gets tag v1.0.1 instead of v1.0.0. */
function generatedCatalog(n: number, bumped?: string, stack = "alpha"): string {
  const lines = ["apps:"];
  for (let i = 1; i <= n; i++) {
    const name = `app-${String(i).padStart(3, "0")}`;
    lines.push(
      `  - name: ${name}`,
      `    repo: uni-it/${name}`,
      `    domain: ${name}.example.edu`,
      "    settings: site.settings",
      "    wsgi: site.wsgi:application",
      // No `port:`: derived ports do not collide (config/ports.ts), as issue 11 asks of the figures.
      "    tags:",
      `      ${stack}: ${name === bumped ? "v1.0.1" : "v1.0.0"}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** What one more app costs the plan: the resources of the larger catalog's plan beyond the
 *  smaller's, per app. Everything that grows with the catalog counts (an app's components, its
 *  buckets, its GitHub resources, a per-app policy anywhere), nothing that every app shares. */
function resourcesPerApp(small: { plan: Plan; apps: number }, large: { plan: Plan; apps: number }): number {
  return (large.plan.resources.length - small.plan.resources.length) / (large.apps - small.apps);
}

/**
 * A stack file with app nodes a fleet of 200 apps would have (m6i.4xlarge, 64 GiB): the stack's
 * own nodes (t3.small on alpha, t3.medium on production) do not hold 200 apps at 3 gunicorn
 * workers each, and the plan's capacity check refuses that before planning anything.
 */
function sizedStackFile(stack: string, write: (file: string, text: string) => string): string {
  const text = fs.readFileSync(path.join(__dirname, "..", `Pulumi.${stack}.yaml`), "utf8");
  const sized = text.replace(/^( {2}fleet:nodes:\n(?: {4}.*\n)*? {4}instanceType:\s*)\S+$/m, "$1m6i.4xlarge");
  if (sized === text) throw new Error(`Pulumi.${stack}.yaml: no instanceType under fleet:nodes to size for the bench's catalogs`);
  return write(`Pulumi.${stack}.yaml`, sized);
}

async function offline(work: string): Promise<void> {
  const write = (file: string, text: string) => {
    const p = path.join(work, file);
    fs.writeFileSync(p, text);
    return p;
  };
  const alpha = sizedStackFile("alpha", write);
  say("offline plans of a 50-app catalog, before and after one tag bump");
  const base = await runPlan({ stack: "alpha", stackFile: alpha, appsFile: write("apps-50.yaml", generatedCatalog(50)) });
  const bumped = await runPlan({
    stack: "alpha",
    stackFile: alpha,
    appsFile: write("apps-50-bumped.yaml", generatedCatalog(50, "app-017")),
  });
  const changes = diffPlans(base, bumped);
  const inside = (urn: string) => urn.includes("fleet:app:AppDeployment") && urn.split("::").pop()!.startsWith("app-017-");
  expectThat(
    changes.some((c) => inside(c.urn)),
    "offline: the tag bump of app-017 changed nothing of app-017: the bump did not reach the plan",
  );
  figure("changes_for_one_tag_bump", changes.length);
  figure("changes_outside_bumped_app", changes.filter((c) => !inside(c.urn)).length);

  for (const n of [20, 200]) {
    say(`offline plan of ${n} apps`);
    const file = write(`apps-${n}.yaml`, generatedCatalog(n));
    const started = process.hrtime.bigint();
    expectPlanOf(n, await runPlan({ stack: "alpha", stackFile: alpha, appsFile: file }));
    figure(`plan_seconds_${n}_apps`, Number(process.hrtime.bigint() - started) / 1e9);
  }
  await onProduction(write);
}

/** Production (3 nodes over two zones) with 20 and 200 generated apps: resources per app, time and memory. */
async function onProduction(write: (file: string, text: string) => string): Promise<void> {
  const stackFile = sizedStackFile("production", write);
  const plans: { plan: Plan; apps: number }[] = [];
  for (const n of [20, 200]) {
    say(`offline plan of production with ${n} apps`);
    const appsFile = write(`apps-production-${n}.yaml`, generatedCatalog(n, undefined, "production"));
    const started = process.hrtime.bigint();
    const { plan, usage } = await runPlanMeasured({ stack: "production", appsFile, stackFile });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expectPlanOf(n, plan);
    plans.push({ plan, apps: n });
    figure(`plan_seconds_${n}_apps_production`, seconds);
    figure(`plan_mb_${n}_apps_production`, usage.maxRssMb);
    if (n === 200) figure("resources_200_apps_production", plan.resources.length);
  }
  figure("resources_per_app_production", resourcesPerApp(plans[0], plans[1]));
  const ratio = Number(values("plan_seconds_200_apps_production")) / Number(values("plan_seconds_20_apps_production"));
  figure("plan_200_over_20_production", ratio);
}

/** The plan holds the `n` generated apps (their deployments), else its timing is not of them. */
function expectPlanOf(n: number, plan: Plan): void {
  const apps = new Set(plan.resources.filter((r) => r.type === "fleet:app:AppDeployment").map((r) => r.name));
  expectThat(apps.size === n, `offline: a plan of ${n} apps has ${apps.size} app deployments`);
}

/** The bench's parts in the order a full run measures them; `npm run bench -- NAME` runs one. */
const PARTS: Record<string, (work: string) => Promise<void>> = {
  rollout: onRealNodes,
  migrations,
  systemd: onSystemdNodes,
  dr: disasterRecovery,
  edge: edgeHostLoss,
  node: nodeReplacement,
  offline,
};

const values = (name: string) => figures.find(([n]) => n === name)?.[1];

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-bench-"));
  try {
    const only = process.argv[2];
    if (only !== undefined && !(only in PARTS))
      throw new ScenarioError(`no bench part named ${only} (allowed: ${Object.keys(PARTS).join(", ")})`);
    for (const [name, part] of Object.entries(PARTS)) if (!only || only === name) await part(work);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const order = [
    "rollout_requests",
    "rollout_failed_requests",
    "stage_cold_s",
    "stage_warm_s",
    "stage_warm_over_cold",
    "naive_rollout_failed_requests",
    "migration_add_default_failed_requests",
    "migration_small_table_lock_ms",
    "migration_small_table_rows",
    "venv_change_requests_systemd",
    "venv_change_failed_requests_systemd",
    "dr_seconds_20_apps",
    "dr_failed_steps",
    "dr_peak_parallel_stage_per_node",
    "node_replacement_requests",
    "node_replacement_failed_requests",
    "changes_for_one_tag_bump",
    "changes_outside_bumped_app",
    "resources_per_app_production",
    "plan_seconds_20_apps",
    "plan_seconds_200_apps",
  ];
  // The headline figures first, in a fixed order, then every other one in the order measured
  // (`npm run bench -- dr` and the like measure a part: only its figures).
  const measured = new Map(figures);
  for (const name of [...order, ...figures.map(([n]) => n).filter((n) => !order.includes(n))].filter((n) => measured.has(n)))
    process.stdout.write(`${name}: ${measured.get(name)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
