/**
 * The e2e test bed itself, checked for real: SSH key login to each node, private
 * /srv and processes per node, sudo, nginx on the static host, PostgreSQL password
 * login, the fixture repository, and a stop() that leaves nothing behind.
 * Needs root (run as `npx mocha tests/e2e/cluster.test.ts`).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { Cluster, NodeHandle, startCluster } from "../../testbed/cluster";
import { curl, sshRun } from "../../testbed/sshClient";

describe("e2e cluster (real sshd, nginx, PostgreSQL on local nodes)", function () {
  this.timeout(120_000);
  let cluster: Cluster;
  let startSeconds = 0;

  before(async () => {
    const t0 = process.hrtime.bigint();
    cluster = await startCluster({ appNodeCount: 2 });
    startSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  });

  after(async () => {
    await cluster?.stop();
  });

  const allNodes = () => [...cluster.appNodes, cluster.staticHost];
  const ssh = (node: NodeHandle, command: string, input?: string) => sshRun(cluster, node, command, input);

  it(`starts two app nodes and a static host (start time printed)`, () => {
    console.log(`      startCluster: ${startSeconds.toFixed(2)} s`);
    assert.deepEqual(
      cluster.appNodes.map((n) => n.name),
      ["node-1", "node-2"],
    );
    const addresses = allNodes().map((n) => n.address);
    assert.equal(new Set(addresses).size, 3, `addresses must differ: ${addresses.join(", ")}`);
  });

  it("logs in over SSH with the key, as the non-root deploy user, on every node", async () => {
    for (const node of allNodes()) {
      const r = await ssh(node, "hostname; id -un; id -u");
      assert.equal(r.code, 0, `${node.name}: ${r.stderr}`);
      const [hostname, user, uid] = r.stdout.trim().split("\n");
      assert.deepEqual([hostname, user], [node.name, cluster.sshUser]);
      assert.notEqual(uid, "0");
    }
  });

  it("refuses password and root logins", async () => {
    const node = cluster.appNodes[0];
    const base = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"];
    const asRoot = spawnSync("ssh", [...base, "-i", cluster.privateKeyPath, `root@${node.address}`, "true"], { encoding: "utf8" });
    assert.notEqual(asRoot.status, 0);
    const noKey = spawnSync("ssh", [...base, "-o", "PubkeyAuthentication=no", `${cluster.sshUser}@${node.address}`, "true"], {
      encoding: "utf8",
    });
    assert.notEqual(noKey.status, 0);
    assert.match(noKey.stderr, /Permission denied \(publickey\)/);
  });

  it("gives the deploy user passwordless sudo", async () => {
    for (const node of allNodes()) {
      const r = await ssh(node, "sudo -n id -u");
      assert.equal(r.code, 0, `${node.name}: ${r.stderr}`);
      assert.equal(r.stdout.trim(), "0");
      assert.doesNotMatch(r.stderr, /unable to resolve host/);
    }
  });

  it("keeps /srv, /var/www, /etc and processes private to each node", async () => {
    const [one, two] = cluster.appNodes;
    const marker = `marker-${randomBytes(6).toString("hex")}`;
    const write = await ssh(
      one,
      `sudo touch /srv/${marker} /var/www/${marker} /etc/${marker}
      nohup sleep 600.25 </dev/null >/dev/null 2>&1 &`,
    );
    assert.equal(write.code, 0, write.stderr);
    const onOne = await cluster.exec(one, `ls /srv/${marker} /var/www/${marker} /etc/${marker} && pgrep -fx 'sleep 600.25'`);
    assert.equal(onOne.code, 0, onOne.stderr);
    const onTwo = await cluster.exec(two, `ls /srv/${marker} /var/www/${marker} /etc/${marker}; pgrep -fx 'sleep 600.25'`);
    assert.equal(onTwo.stdout, "", `node-2 sees node-1's files or processes: ${onTwo.stdout}`);
    for (const dir of ["/srv", "/var/www", "/etc"]) assert.equal(fs.existsSync(`${dir}/${marker}`), false, `${dir} leaked to the host`);
  });

  it("runs commands as another user with exec(asUser)", async () => {
    const r = await cluster.exec(cluster.appNodes[1], "id -un; echo $HOME", { asUser: cluster.sshUser });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [cluster.sshUser, `/home/${cluster.sshUser}`]);
  });

  it("runs nginx on the static host, with a site dir the deploy user can fill and reload", async () => {
    const home = await curl(`http://${cluster.staticHost.address}/`);
    assert.equal(home.status, 200);
    assert.match(home.body, /fleet e2e static host/);

    const site = `server { listen 80; server_name probe.example.test; location / { return 200 "probe-ok\\n"; } }\n`;
    const conf = `${cluster.nginxConfDir}/fleet-probe.conf`;
    const r = await ssh(cluster.staticHost, `sudo tee ${conf} >/dev/null && sudo nginx -t -q && sudo nginx -s reload`, site);
    assert.equal(r.code, 0, r.stderr);
    const probe = await waitForBody(`http://${cluster.staticHost.address}/`, "probe.example.test", "probe-ok");
    assert.equal(probe, "probe-ok\n");
    assert.equal(fs.existsSync(conf), false, "the site file must stay on the static host");
    // an app node reaches the static host too (they share the "VPC")
    const fromNode = await cluster.exec(
      cluster.appNodes[0],
      `curl -sS -H 'Host: probe.example.test' http://${cluster.staticHost.address}/`,
    );
    assert.equal(fromNode.stdout, "probe-ok\n", fromNode.stderr);
  });

  it("runs PostgreSQL, which takes a password login from the nodes once the password is set", async () => {
    const password = randomBytes(18).toString("base64") + "'\\\"$"; // quoting must not matter
    await cluster.postgres.setSuperuserPassword(password);
    const { host, port, superuser } = cluster.postgres;
    // The password goes through stdin, as the deployment's secrets do.
    const query = `read -r PGPASSWORD && export PGPASSWORD && psql -X -At -h ${host} -p ${port} -U ${superuser} -d postgres -c 'SELECT current_user, version()'`;
    const ok = await ssh(cluster.appNodes[1], query, `${password}\n`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^postgres\|PostgreSQL 15\./);
    const wrong = await ssh(cluster.appNodes[1], query, "not-the-password\n");
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /password authentication failed/);
  });

  it("serves the fixture repository, tags v1..v11 and v20, to a clone on a node (by path and by URL)", async () => {
    const node = cluster.appNodes[0];
    const r = await ssh(
      node,
      `git ls-remote --tags --refs ${cluster.fixtureRepoPath} | sed 's#.*refs/tags/##' | sort | tr '\\n' ' '; echo
      sudo install -d -o ${cluster.sshUser} /srv/clone && git clone -q ${cluster.gitBaseUrl}/uni-it/polls.git /srv/clone/polls &&
      git -C /srv/clone/polls -c advice.detachedHead=false checkout -q v2 && ls /srv/clone/polls/polls/migrations`,
    );
    assert.equal(r.code, 0, r.stderr);
    const [tags, ...migrations] = r.stdout.trim().split("\n");
    assert.equal(tags.trim(), "v1 v10 v11 v12 v2 v20 v3 v4 v5 v6 v7 v8 v9");
    assert.deepEqual(migrations, ["0001_initial.py", "0002_question_summary.py", "__init__.py"]);
    // an app's own system user (as a deployment creates one) may read it too
    const other = await ssh(
      node,
      `sudo useradd --system --no-create-home fixture-reader &&
      sudo -u fixture-reader git ls-remote --tags --refs ${cluster.fixtureRepoPath} | wc -l`,
    );
    assert.equal(other.stdout.trim(), String(tags.trim().split(" ").length), other.stderr);
  });

  it("a run in another PID and mount namespace (a CI sandbox beside this one) takes another slot and leaves this one alone", async () => {
    // The other run sees neither this run's processes nor its files: only the network is shared.
    const script = `
      const { startCluster } = require(${JSON.stringify(require.resolve("../../testbed/cluster"))});
      const { sshRun } = require(${JSON.stringify(require.resolve("../../testbed/sshClient"))});
      (async () => {
        const other = await startCluster({ appNodeCount: 1, repositories: {} });
        const r = await sshRun(other, other.appNodes[0], "hostname");
        console.log(JSON.stringify({ db: other.postgres.host, node: other.appNodes[0].address, hostname: r.stdout.trim() }));
        await other.stop();
      })().catch((e) => { console.error(e.message); process.exitCode = 1; });`;
    const child = spawnSync(
      "unshare",
      [
        "--pid",
        "--fork",
        "--mount",
        "--mount-proc",
        "sh",
        "-c",
        'mkdir -p /var/lib/fleet-e2e && mount -t tmpfs tmpfs /var/lib/fleet-e2e && exec "$0" -r ts-node/register/transpile-only -e "$1"',
        process.execPath,
        script,
      ],
      { encoding: "utf8", cwd: process.cwd(), timeout: 90_000 },
    );
    assert.equal(child.status, 0, child.stderr);
    const other = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as { db: string; node: string; hostname: string };
    assert.equal(other.hostname, "node-1");
    assert.notEqual(other.db, cluster.postgres.host, "both runs took the same slot");
    for (const node of allNodes()) {
      const r = await ssh(node, "hostname");
      assert.equal(r.stdout.trim(), node.name, `${node.name} of this run no longer answers: ${r.stderr}`);
    }
  });

  it("stop() kills what the nodes ran and leaves no network, mount or file behind", async () => {
    const sleepers = () => spawnSync("pgrep", ["-fx", "sleep 600.25"], { encoding: "utf8" }).stdout.trim();
    const before = sleepers();
    assert.notEqual(before, "", "the sleep started on node-1 should be running");
    const stateDir = cluster.fixtureRepoPath.replace(/\/git\/.*$/, "");
    await cluster.stop();
    const left = sleepers()
      .split("\n")
      .filter((pid) => before.split("\n").includes(pid));
    assert.deepEqual(left, [], "processes started on a node survive stop()");
    assert.equal(fs.existsSync(stateDir), false, `${stateDir} still exists`);
    const links = spawnSync("ip", ["-br", "link"], { encoding: "utf8" }).stdout;
    // Only this cluster's slot: other e2e files may run clusters beside this one.
    const slot = cluster.postgres.host.split(".")[2];
    assert.doesNotMatch(links, new RegExp(`^fe2e${slot}(br|n)`, "m"));
    const mounts = fs.readFileSync("/proc/self/mounts", "utf8");
    assert.equal(mounts.includes(stateDir), false, `a mount under ${stateDir} is left`);
  });
});

/** nginx applies a reload asynchronously: poll until the new site answers. */
async function waitForBody(url: string, host: string, expected: string): Promise<string> {
  let last = "";
  for (let i = 0; i < 100; i++) {
    const r = await curl(url, host);
    last = r.body;
    if (r.body.includes(expected)) return r.body;
    await new Promise((res) => setTimeout(res, 20));
  }
  return last;
}
