/**
 * Proof on real nodes: the commands the Pulumi program declares, executed over SSH on local
 * nodes (real OpenSSH, PostgreSQL, nginx, gunicorn, Django) in the program's dependency
 * order with @pulumi/command's lifecycle. Each scenario asserts real state: HTTP answers
 * through nginx on the app's domain, the database schema, symlinks and files on the nodes.
 * The scenarios follow one stack's history, as releases would.
 */
import { strict as assert } from "assert";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { diffPlans } from "../../offline/plan";
import { Cluster } from "../../testbed/cluster";
import { sshRun } from "../../testbed/sshClient";
import { ApplyResult } from "../../testbed/executor";
import {
  APP,
  APP_IDENTITY,
  APP_SECRET_VALUE,
  catalogText,
  DOMAIN,
  get,
  Load,
  LocalStack,
  PORT,
  stylesheetOf,
} from "../../testbed/localStack";
import { issue, makeCa, removeCa } from "../helpers/certificates";
import { pushBrokenTag, pushNewVenvTag } from "../../testbed/fixtureTags";
import { assertOk, withLocalStack } from "./testBed";
import { tlsFileNames } from "../../render/nginx";
import { scriptsVersion } from "../../node/scripts";
import { scriptsDir } from "../../rollout/layout";

const E2E_TIMEOUT = 15 * 60 * 1000;
/** The fixture app's home on the nodes. */
const HOME = APP_IDENTITY.home;

function ranNames(r: ApplyResult): string[] {
  return r.ran.map((x) => x.name);
}

async function migrationsApplied(stack: LocalStack): Promise<string[]> {
  const rows = await stack.appQuery("SELECT name FROM django_migrations WHERE app = 'polls' ORDER BY name");
  return rows.split("\n").filter(Boolean);
}

async function questionColumns(stack: LocalStack): Promise<string[]> {
  const rows = await stack.appQuery(
    "SELECT column_name FROM information_schema.columns WHERE table_name = 'polls_question' ORDER BY column_name",
  );
  return rows.split("\n").filter(Boolean);
}

/** Runs `up` under continuous load through nginx; returns the result and the load's counts. */
async function upUnderLoad(stack: LocalStack, catalog: string) {
  const load = new Load(`http://${stack.cluster.staticHost.address}/`, DOMAIN);
  const result = await stack.up(catalog);
  const counts = await load.stop();
  return { result, ...counts };
}

describe("e2e: rollouts on real local nodes", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack();
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  const [node1, node2] = [() => cluster.appNodes[0], () => cluster.appNodes[1]];
  let v1Stylesheet = "";

  it("fresh deploy of v1: both nodes serve it through nginx, schema at 0001, secrets only in the app's 0600 file", async () => {
    const r = await stack.up("v1");
    assertOk(r);
    for (const n of cluster.appNodes) {
      assert.equal(await stack.currentOn(n), "v1");
      assert.equal(await stack.nodeRelease(n), "v1");
    }
    const page = await get(`http://${cluster.staticHost.address}/`, DOMAIN);
    assert.equal(page.status, 200);
    assert.match(page.body, /release: v1/);
    v1Stylesheet = stylesheetOf(page.body) ?? "";
    assert.ok(v1Stylesheet, "v1's page links a hashed stylesheet");
    assert.equal((await get(`http://${cluster.staticHost.address}${v1Stylesheet}`, DOMAIN)).status, 200);
    assert.deepEqual(await migrationsApplied(stack), ["0001_initial"]);
    // The environment file: the app's user only, with the secret from config; never on a command line.
    const env = await cluster.exec(node1(), `stat -c '%a %U' ${HOME}/shared/env && grep -c '^API_TOKEN=' ${HOME}/shared/env`);
    assert.equal(env.stdout.trim(), `600 ${APP_IDENTITY.osUser}\n1`);
    for (const x of r.ran) assert.ok(!x.command.includes(APP_SECRET_VALUE), `${x.name}'s command line holds the secret`);
    // The release records its tag, commit and migration state; the stack output says what serves.
    const rec = await cluster.exec(
      node1(),
      `cat ${HOME}/current/.fleet/tag ${HOME}/current/.fleet/commit ${HOME}/current/.fleet/migrations-applied`,
    );
    const [tag, commit, migration] = rec.stdout.trim().split("\n");
    assert.equal(tag, "v1");
    assert.match(commit, /^[0-9a-f]{40}$/);
    assert.equal(migration, "polls.0001_initial");
    const switched = r.ran.find((x) => x.name === `${APP}-switch-node-2`);
    assert.equal(switched?.stdout.trim(), `v1 ${commit}`);
  });

  it("a rerun with nothing changed executes nothing", async () => {
    const desired = await stack.plan("v1");
    assert.deepEqual(diffPlans(stack.state, desired), []);
    const r = await stack.up("v1");
    assertOk(r);
    assert.deepEqual(ranNames(r), []);
  });

  it("v1 -> v2 under continuous load: zero failed requests, migration once, v1's hashed static still served", async () => {
    const { result, requests, failed, failures } = await upUnderLoad(stack, "v2");
    assertOk(result);
    assert.ok(requests > 50, `only ${requests} requests during the rollout`);
    assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
    for (const n of cluster.appNodes) assert.equal(await stack.nodeRelease(n), "v2");
    assert.equal(await stack.nginxRelease(), "v2");
    // Migrations ran once, on one node, as their own steps.
    const migrateRuns = result.ran.filter((x) => x.command.includes("/migrate.sh "));
    assert.deepEqual(
      migrateRuns.map((x) => x.name),
      [`${APP}-expand`, `${APP}-contract`],
    );
    assert.match(migrateRuns[0].stdout, /applied=polls\.0002_question_summary /);
    assert.match(migrateRuns[1].stdout, /applied= unapplied=$/m);
    assert.deepEqual(await migrationsApplied(stack), ["0001_initial", "0002_question_summary"]);
    assert.ok((await questionColumns(stack)).includes("summary"));
    // The old release's hashed stylesheet is still there for pages rendered by v1.
    const v2Stylesheet = stylesheetOf((await get(`http://${cluster.staticHost.address}/`, DOMAIN)).body);
    assert.ok(v2Stylesheet && v2Stylesheet !== v1Stylesheet);
    assert.equal((await get(`http://${cluster.staticHost.address}${v1Stylesheet}`, DOMAIN)).status, 200);
    // Only this release's steps ran: nothing of the machines, the database or the nginx site.
    assert.deepEqual([...new Set(ranNames(result).map((n) => n.replace(/-node-\d$/, "-*")))].sort(), [
      `${APP}-contract`,
      `${APP}-expand`,
      `${APP}-install-*`,
      `${APP}-publish`,
      `${APP}-switch-*`,
    ]);
  });

  it("v3's migration fails: the rollout stops with a clear message and no node switches", async () => {
    const r = await stack.up("v3");
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /migrating polls to v3 failed: .*column "headline" does not exist.*; no node was switched/);
    assert.ok(!ranNames(r).some((n) => n.includes("-switch-")), "a switch ran");
    for (const n of cluster.appNodes) {
      assert.equal(await stack.currentOn(n), "v2");
      assert.equal(await stack.nodeRelease(n), "v2");
    }
    assert.deepEqual(await migrationsApplied(stack), ["0001_initial", "0002_question_summary"]);
    // Reverting the tag converges without moving a node.
    const back = await stack.up("v2");
    assertOk(back);
    assert.ok(!ranNames(back).some((n) => n.includes("-switch-")));
  });

  it("v4 fails its health check on the first node, which returns to v2; the other node never moves", async () => {
    const r = await stack.up("v4");
    assert.equal(r.ok, false);
    assert.match(
      r.error ?? "",
      new RegExp(
        `polls v4 failed its health check on ${node1().address.replace(/\./g, "\\.")} \\(HTTP 503\\): put back v2; no further node moves`,
      ),
    );
    assert.ok(ranNames(r).includes(`${APP}-switch-node-1`));
    assert.ok(!ranNames(r).includes(`${APP}-switch-node-2`), "node-2 was switched");
    assert.ok(r.skipped.includes(`${APP}-switch-node-2`));
    assert.equal(await stack.currentOn(node1()), "v2");
    assert.equal(await stack.nodeRelease(node1()), "v2");
    assert.equal(await stack.currentOn(node2()), "v2");
    assert.equal(await stack.nginxRelease(), "v2");
    assertOk(await stack.up("v2"));
  });

  it("a release whose app cannot even start fails on the first node, which comes back on v2 (its gunicorn restarted)", async () => {
    pushBrokenTag(cluster, "v2", "v2-broken");
    const r = await stack.up("v2-broken");
    assert.equal(r.ok, false);
    // The reason, from gunicorn's log, is in the error: the worker's import raised RuntimeError.
    assert.match(
      r.error ?? "",
      /polls v2-broken failed its health check on [0-9.]+ \(gunicorn did not start: RuntimeError\): put back v2; no further node moves/,
    );
    assert.ok(!ranNames(r).includes(`${APP}-switch-node-2`));
    for (const n of cluster.appNodes) {
      assert.equal(await stack.currentOn(n), "v2");
      assert.equal(await stack.nodeRelease(n), "v2");
    }
    assertOk(await stack.up("v2"));
  });

  it("rollback v2 -> v1 under continuous load: zero failed requests, 0002 unapplied with v2's code", async () => {
    const { result, requests, failed, failures } = await upUnderLoad(stack, "v1");
    assertOk(result);
    assert.ok(requests > 50, `only ${requests} requests during the rollback`);
    assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
    for (const n of cluster.appNodes) {
      assert.equal(await stack.currentOn(n), "v1");
      assert.equal(await stack.nodeRelease(n), "v1");
    }
    assert.deepEqual(await migrationsApplied(stack), ["0001_initial"]);
    assert.ok(!(await questionColumns(stack)).includes("summary"));
    const contract = result.ran.find((x) => x.name === `${APP}-contract`);
    assert.match(contract?.stderr ?? "", /unapplying polls\.0002_question_summary with the code of v2/);
  });

  it("a rollback past an irreversible migration is refused before anything changes, naming it", async () => {
    assertOk(await stack.up("v5"));
    assert.deepEqual(await migrationsApplied(stack), ["0001_initial", "0002_question_summary", "0003_fill_summaries"]);
    const r = await stack.up("v2");
    assert.equal(r.ok, false);
    assert.match(
      r.error ?? "",
      /refusing to roll polls back to v2: polls\.0003_fill_summaries cannot be reversed \(Raw Python operation\); nothing was changed/,
    );
    assert.ok(!ranNames(r).some((n) => n.includes("-switch-")));
    for (const n of cluster.appNodes) assert.equal(await stack.nodeRelease(n), "v5");
    assert.deepEqual(await migrationsApplied(stack), ["0001_initial", "0002_question_summary", "0003_fill_summaries"]);
    // Reverting the tag to v5 converges without moving a node.
    const back = await stack.up("v5");
    assertOk(back);
    assert.ok(!ranNames(back).some((n) => n.includes("-switch-")));
  });

  it("prunes to keepReleases on every node, never the current or the previous release", async () => {
    for (const n of cluster.appNodes) {
      const r = await cluster.exec(n, `ls ${HOME}/releases; readlink ${HOME}/current ${HOME}/previous`);
      const [releases, links] = [r.stdout.trim().split("\n").slice(0, -2), r.stdout.trim().split("\n").slice(-2)];
      assert.ok(releases.length <= 3 + 2, `${n.name} keeps ${releases.join(" ")}`);
      for (const l of links) assert.ok(releases.includes(path.basename(l)), `${n.name}: ${l} was pruned`);
    }
  });

  it("an environment change reaches the running app through stdin and a graceful reload, touching nothing else", async () => {
    const catalog = catalogText("v5", { env: { GREETING: "hello from apps.yaml" } });
    const workers = `m=$(cat ${HOME}/shared/run/gunicorn.pid) && pgrep -P "$m" | sort | paste -sd, -`;
    const before = await Promise.all(cluster.appNodes.map((n) => cluster.exec(n, workers)));
    const { result, failed, failures } = await upUnderLoad(stack, catalog);
    assertOk(result);
    assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
    assert.deepEqual(ranNames(result).sort(), [`${APP}-install-node-1`, `${APP}-install-node-2`]);
    for (const [i, n] of cluster.appNodes.entries()) {
      // The file, and what gunicorn's settings (re-read on reload) give the workers from it.
      const seen = await cluster.exec(
        n,
        `grep '^GREETING=' ${HOME}/shared/env; cd / && runuser -u ${APP_IDENTITY.osUser} -- ${HOME}/current/.fleet/venv/bin/python -c "import runpy; print([e for e in runpy.run_path('${HOME}/shared/gunicorn.conf.py')['raw_env'] if e.startswith('GREETING=')])"`,
      );
      assert.equal(seen.stdout.trim(), `GREETING='hello from apps.yaml'\n['GREETING=hello from apps.yaml']`);
      // A graceful reload replaced every worker (a fork's environment is not visible in /proc).
      const after = (await cluster.exec(n, workers)).stdout.trim().split(",");
      assert.ok(
        after.length > 0 && after.every((w) => !before[i].stdout.trim().split(",").includes(w)),
        `${n.name}: workers ${before[i].stdout.trim()} -> ${after}`,
      );
    }
  });

  it("a release with changed requirements gets a new virtualenv and a new gunicorn master (USR2), with zero failed requests", async () => {
    pushNewVenvTag(cluster, "v5", "v5-venv");
    const masters = () =>
      Promise.all(cluster.appNodes.map(async (n) => (await cluster.exec(n, `cat ${HOME}/shared/run/gunicorn.pid`)).stdout.trim()));
    const venvs = () =>
      Promise.all(cluster.appNodes.map(async (n) => (await cluster.exec(n, `cat ${HOME}/current/.fleet/venv-hash`)).stdout.trim()));
    const [mastersBefore, venvsBefore] = [await masters(), await venvs()];
    const { result, requests, failed, failures } = await upUnderLoad(
      stack,
      catalogText("v5-venv", { env: { GREETING: "hello from apps.yaml" } }),
    );
    assertOk(result);
    assert.ok(requests > 50);
    assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
    for (const n of cluster.appNodes) assert.equal(await stack.nodeRelease(n), "v5-venv");
    const [mastersAfter, venvsAfter] = [await masters(), await venvs()];
    cluster.appNodes.forEach((n, i) => {
      assert.notEqual(venvsAfter[i], venvsBefore[i], `${n.name} kept its virtualenv`);
      assert.notEqual(mastersAfter[i], mastersBefore[i], `${n.name}: gunicorn was only reloaded, its interpreter is the old virtualenv's`);
    });
  });

  it("a certificate in fleet:tls: nginx serves the app over HTTPS and redirects HTTP, the app gets an https SITE_URL, the key is root-only; no release step runs", async () => {
    const ca = makeCa();
    try {
      const catalog = catalogText("v5-venv", { env: { GREETING: "hello from apps.yaml" } });
      const cert = issue(ca, DOMAIN);
      stack.tls = { [APP]: { certificate: cert.certificate, privateKey: cert.privateKey } };
      const r = await stack.up(catalog);
      assertOk(r);
      // The key, nginx, and the app's environment (SITE_URL is https now): no release step.
      assert.deepEqual(ranNames(r).sort(), ["nginx-config", "nginx-keys", `${APP}-install-node-1`, `${APP}-install-node-2`]);
      assert.ok(
        r.ran.every((x) => !x.command.includes("PRIVATE KEY")),
        "a key is on a command line",
      );
      for (const n of cluster.appNodes) {
        assert.equal((await cluster.exec(n, `grep '^SITE_URL=' ${HOME}/shared/env`)).stdout.trim(), `SITE_URL='https://${DOMAIN}'`);
      }
      assert.equal(await stack.nginxReleaseOverTls(ca.certificate), "v5-venv");
      const plain = await get(`http://${cluster.staticHost.address}/polls/?page=2`, DOMAIN);
      assert.equal(plain.status, 301);
      assert.equal(plain.headers?.location, `https://${DOMAIN}/polls/?page=2`);
      const files = await cluster.exec(cluster.staticHost, "stat -c '%n %a %U' /etc/nginx/fleet-tls /etc/nginx/fleet-tls/*");
      const names = tlsFileNames(APP, cert.certificate);
      assert.equal(
        files.stdout.trim(),
        [
          `/etc/nginx/fleet-tls 700 root`,
          `/etc/nginx/fleet-tls/${names.certificate} 644 root`,
          `/etc/nginx/fleet-tls/${names.privateKey} 600 root`,
        ].join("\n"),
      );
      // The deploy user compares the root-only key through sudo: a rerun changes nothing.
      assert.deepEqual(ranNames(await stack.up(catalog)), []);
      // Renewal: the new certificate is served after a graceful reload, nothing else runs.
      const renewed = issue(ca, DOMAIN, 90);
      stack.tls = { [APP]: { certificate: renewed.certificate, privateKey: renewed.privateKey } };
      const again = await stack.up(catalog);
      assert.deepEqual(ranNames(again), ["nginx-keys", "nginx-config"]);
      assert.match(again.ran[0].stdout, /1 key\(s\) written, 0 unchanged/);
      assert.match(again.ran[1].stdout, /published 1 file\(s\) and 1 certificate\(s\), nginx reloaded/);
      const served = execFileSync("openssl", ["s_client", "-connect", `${cluster.staticHost.address}:443`, "-servername", DOMAIN], {
        input: "",
        encoding: "utf8",
        stdio: ["pipe", "pipe", "ignore"],
      });
      const servedSerial = execFileSync("openssl", ["x509", "-noout", "-serial"], { input: served, encoding: "utf8" }).trim();
      assert.equal(servedSerial, `serial=${renewed.serial}`);
      // A certificate for an app that leaves the catalog must go with it: one line, nothing runs.
      await assert.rejects(stack.up("apps: []\n"), /fleet:tls\.polls: no app "polls" runs on stack alpha/);
    } finally {
      stack.tls = undefined;
      removeCa(ca);
    }
  });

  it("removing the app from the catalog stops it and deletes its files from every host; its database stays", async () => {
    const r = await stack.up("apps: []\n");
    assertOk(r);
    assert.ok(
      ranNames(r).includes(`${APP}-install-node-1`) &&
        r.ran.every((x) => x.op === "delete" || ["nginx-config", "publish-access"].includes(x.name)),
      ranNames(r).join(" "),
    );
    for (const n of cluster.appNodes) {
      const x = await cluster.exec(
        n,
        `test -e ${HOME} && echo files; test -e /srv/fleet/${APP} && echo scripts; id ${APP_IDENTITY.osUser} >/dev/null 2>&1 && echo user; ss -ltn | grep -q ':${PORT} ' && echo listening; true`,
      );
      assert.equal(x.stdout.trim(), "", `${n.name} keeps: ${x.stdout}`);
    }
    const web = await cluster.exec(
      cluster.staticHost,
      `test -e ${APP_IDENTITY.webRoot} && echo files; ls ${cluster.nginxConfDir} /etc/nginx/fleet-tls`,
    );
    assert.ok(!web.stdout.includes("files") && !web.stdout.includes(APP), `the nginx host keeps: ${web.stdout}`);
    assert.doesNotMatch((await get(`http://${cluster.staticHost.address}/`, DOMAIN)).body, /release:/);
    assert.deepEqual(await migrationsApplied(stack), ["0001_initial", "0002_question_summary", "0003_fill_summaries"]);
  });
});

describe("e2e: a step killed half-way, then rerun", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack();
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  it("staging killed while it builds the virtualenv: the rerun converges to v1 everywhere", async () => {
    const node1 = cluster.appNodes[0];
    let killed = false;
    // Kill the step's whole SSH session on the node (the script and its children) once the
    // virtualenv is being built and is not complete yet, then the SSH client.
    const killWhileBuilding = `pid=$(cat ${HOME}/.lock-stage 2>/dev/null) || exit 1
for v in ${HOME}/venvs/*/; do [ -x "$v/bin/python" ] && [ ! -f "$v/.fleet-complete" ] && building=1; done
[ -n "\${building:-}" ] || exit 1
pkill -KILL -s "$(ps -o sid= -p "$pid" | tr -d ' ')"`;
    const first = await stack.up("v1", {
      onStart: (r, _op, interrupt) => {
        if (r.name !== `${APP}-install-node-1`) return;
        const poll = async () => {
          for (let i = 0; i < 300 && !killed; i++) {
            killed = (await cluster.exec(node1, killWhileBuilding)).code === 0;
            if (!killed) await new Promise((res) => setTimeout(res, 50));
          }
          interrupt();
        };
        void poll();
      },
    });
    assert.ok(killed, "the stage step was not killed");
    assert.equal(first.ok, false);
    const partial = await cluster.exec(
      node1,
      `test -e ${HOME}/releases/v1 && echo release; for v in ${HOME}/venvs/*/; do test -f "$v/.fleet-complete" || echo half-built; done`,
    );
    assert.equal(partial.stdout.trim(), "half-built", "after the kill: no v1 release, a half-built virtualenv");

    const second = await stack.up("v1");
    assertOk(second);
    assert.ok(ranNames(second).includes(`${APP}-install-node-1`));
    for (const n of cluster.appNodes) {
      assert.equal(await stack.currentOn(n), "v1");
      assert.equal(await stack.nodeRelease(n), "v1");
      const left = await cluster.exec(
        n,
        `ls -a ${HOME}/releases; for v in ${HOME}/venvs/*/; do test -f "$v/.fleet-complete" && echo complete; done`,
      );
      assert.ok(!left.stdout.includes(".partial-"), `${n.name} keeps a partial release`);
      assert.match(left.stdout, /complete/);
    }
    assert.equal(await stack.nginxRelease(), "v1");
    assertOk(await stack.up("v1"));
  });

  it("stage clones over SSH with the deploy key, trusting only the host keys given after it on stdin", async () => {
    // The nginx host's sshd stands in for GitHub's: ssh://deploy@<it>/<fixture path>. The stage
    // step's stdin is what index.ts sends: the deploy key, then known_hosts lines for the host.
    const [node1, gitHost] = [cluster.appNodes[0], cluster.staticHost];
    const hostKey = (await cluster.exec(gitHost, "cat /etc/ssh/ssh_host_ed25519_key.pub")).stdout.trim().split(" ").slice(0, 2).join(" ");
    assert.match(hostKey, /^ssh-ed25519 \S+$/);
    const scripts = scriptsDir(scriptsVersion());
    assert.equal(
      (await cluster.exec(node1, `test -f ${scripts}/stage.sh && echo there`)).stdout.trim(),
      "there",
      `no ${scripts}/stage.sh on ${node1.name}`,
    );
    const url = `ssh://${cluster.sshUser}@${gitHost.address}${cluster.fixtureRepoPath}`;
    const stage = (knownHosts: string) =>
      sshRun(
        cluster,
        node1,
        `sh ${scripts}/stage.sh ${APP_IDENTITY.osUser} v2 ${url} system`,
        `${cluster.privateKeyPem.trimEnd()}\n${knownHosts}`,
      );

    const impostor = execFileSync(
      "sh",
      ["-c", "d=$(mktemp -d) && ssh-keygen -q -t ed25519 -N '' -f $d/k && cut -d' ' -f1,2 $d/k.pub && rm -rf $d"],
      { encoding: "utf8" },
    ).trim();
    // Another key for that address, or keys for other hosts only: refused, nothing trusted on first use.
    for (const knownHosts of [`${gitHost.address} ${impostor}\n`, `github.com ${hostKey}\n`]) {
      const refused = await stage(knownHosts);
      assert.notEqual(refused.code, 0, `accepted the clone host with known_hosts: ${knownHosts}`);
      assert.match(refused.stderr, /Host key verification failed/);
    }
    assert.equal((await cluster.exec(node1, `test -e ${HOME}/releases/v2 && echo staged`)).stdout.trim(), "");

    const staged = await stage(`${gitHost.address} ${hostKey}\n`);
    assert.equal(staged.code, 0, staged.stderr);
    assert.match(staged.stdout, /^v2 [0-9a-f]{40}$/m);
    assert.equal(
      (await cluster.exec(node1, `cat ${HOME}/releases/v2/.fleet/tag; ls ${HOME}/.deploy-key* 2>/dev/null | wc -l`)).stdout.trim(),
      "v2\n0",
      "the key is removed after use",
    );
    assert.equal(await stack.currentOn(node1), "v1", "staging moves no traffic");
  });
});
