/**
 * The production process manager, for real: app nodes whose PID 1 is systemd 252 (the test bed's
 * `init: "systemd"`), gunicorn@.service from the plan's own cloud-init, and every release a
 * graceful re-exec the unit follows (node/provision/gunicorn@.service, lib-gunicorn.sh): a new
 * virtualenv, the same one, and a release whose import is slow, each under continuous load
 * through nginx, with no failed request and no restart of the unit.
 */
import { strict as assert } from "assert";
import { Cluster, NodeHandle } from "../../testbed/cluster";
import { APP_IDENTITY, catalogText, DOMAIN, Load, LocalStack } from "../../testbed/localStack";
import { pushBrokenTag, pushNewVenvTag, pushSlowImportTag, SLOW_IMPORT_SECONDS } from "../../testbed/fixtureTags";
import { assertOk, upUnderLoad, withLocalStack } from "./testBed";

const E2E_TIMEOUT = 15 * 60 * 1000;
const UNIT = `gunicorn@${APP_IDENTITY.osUser}`;
const PIDFILE = `${APP_IDENTITY.home}/shared/run/gunicorn.pid`;

/** Properties of the app's unit on a node, as systemd reports them. */
async function unitShow(cluster: Cluster, node: NodeHandle, ...props: string[]): Promise<Record<string, string>> {
  const r = await cluster.exec(node, `systemctl show ${UNIT} ${props.map((p) => `-p ${p}`).join(" ")}`);
  assert.equal(r.code, 0, r.stderr);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/** What a node's app looks like to systemd: state, main process, restarts, the run it is in (a
 *  restart, by hand or not, starts another: InvocationID); and gunicorn's own pidfile. */
async function serving(cluster: Cluster, node: NodeHandle) {
  const u = await unitShow(cluster, node, "ActiveState", "SubState", "MainPID", "NRestarts", "UnitFileState", "InvocationID");
  const pidfile = (await cluster.exec(node, `cat ${PIDFILE}`)).stdout.trim();
  return {
    active: u.ActiveState,
    sub: u.SubState,
    mainPid: u.MainPID,
    restarts: u.NRestarts,
    enabled: u.UnitFileState,
    invocation: u.InvocationID,
    pidfile,
  };
}

type Serving = Awaited<ReturnType<typeof serving>>;

describe("e2e: systemd app nodes (the production process manager)", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack({ appNodeCount: 2, init: "systemd" });
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  /** Every node serves `tag` from a new master that systemd follows as the unit's main process,
   *  in the same run of the unit (no restart); returns what the nodes look like now. */
  async function assertReexeced(tag: string, before: Serving[]): Promise<Serving[]> {
    const after = await Promise.all(cluster.appNodes.map((n) => serving(cluster, n)));
    for (const [i, n] of cluster.appNodes.entries()) {
      const [was, now] = [before[i], after[i]];
      assert.equal(await stack.nodeRelease(n), tag, n.name);
      assert.deepEqual([now.active, now.sub, now.restarts], ["active", "running", "0"], `${n.name}: ${JSON.stringify(now)}`);
      assert.equal(now.invocation, was.invocation, `${n.name}: the unit was restarted`);
      assert.notEqual(now.mainPid, was.mainPid, `${n.name}: the master is the old one`);
      assert.equal(now.mainPid, now.pidfile, `${n.name}: systemd's main process is not gunicorn's master`);
      const old = await cluster.exec(n, `test -d /proc/${was.mainPid} && echo alive || true`);
      assert.equal(old.stdout.trim(), "", `${n.name}: the old master ${was.mainPid} still runs`);
    }
    return after;
  }

  let masters: Serving[] = [];

  it("fresh deploy of v1: the unit from the plan's cloud-init runs gunicorn, enabled, hardened, logging to journald", async () => {
    assertOk(await stack.up("v1"));
    for (const n of cluster.appNodes) {
      assert.equal((await cluster.exec(n, "cat /proc/1/comm")).stdout.trim(), "systemd", n.name);
      // As the deploy user, as lib-gunicorn.sh asks it (D-Bus): active.
      assert.equal((await cluster.exec(n, `systemctl is-active ${UNIT}`, { asUser: cluster.sshUser })).stdout.trim(), "active", n.name);
      const s = await serving(cluster, n);
      assert.equal(s.enabled, "enabled", `${n.name}: not enabled, it would not come back after a reboot`);
      assert.equal(s.mainPid, s.pidfile, `${n.name}: systemd's main process is not gunicorn's master`);
      const u = await unitShow(
        cluster,
        n,
        "FragmentPath",
        "Type",
        "NotifyAccess",
        "User",
        "NoNewPrivileges",
        "PrivateTmp",
        "ProtectSystem",
      );
      assert.deepEqual(
        u,
        {
          FragmentPath: "/etc/systemd/system/gunicorn@.service",
          Type: "notify",
          NotifyAccess: "all",
          User: APP_IDENTITY.osUser,
          NoNewPrivileges: "yes",
          PrivateTmp: "yes",
          ProtectSystem: "full",
        },
        n.name,
      );
      // The hardening holds in the running master: no new privileges, its own /tmp, /usr read-only.
      const inside = await cluster.exec(
        n,
        `grep '^NoNewPrivs:' /proc/${s.mainPid}/status; test "$(readlink /proc/${s.mainPid}/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" && echo private-mounts; nsenter -t ${s.mainPid} -m -- sh -c 'touch /usr/fleet-probe 2>/dev/null && echo usr-writable || echo usr-read-only'`,
      );
      assert.deepEqual(inside.stdout.trim().split("\n"), ["NoNewPrivs:\t1", "private-mounts", "usr-read-only"], n.name);
      const journal = await cluster.exec(n, `journalctl -u ${UNIT} -o cat --no-pager`);
      assert.match(journal.stdout, /Listening at: http:\/\/[0-9.]+:\d+/, `${n.name}: journald has no gunicorn log`);
      assert.match(journal.stdout, /Booting worker with pid/, n.name);
    }
    masters = await Promise.all(cluster.appNodes.map((n) => serving(cluster, n)));
  });

  it("v1 -> v2-venv (new requirements, so a new virtualenv) under load: no failed request, a new master systemd follows, no restart", async () => {
    pushNewVenvTag(cluster, "v2", "v2-venv");
    const venvs = () =>
      Promise.all(
        cluster.appNodes.map(async (n) => (await cluster.exec(n, `cat ${APP_IDENTITY.home}/current/.fleet/venv-hash`)).stdout.trim()),
      );
    const venvsBefore = await venvs();
    await upUnderLoad(stack, "v2-venv");
    masters = await assertReexeced("v2-venv", masters);
    (await venvs()).forEach((v, i) => assert.notEqual(v, venvsBefore[i], `${cluster.appNodes[i].name} kept its virtualenv`));
  });

  it(`v2-venv -> v2-slow (same virtualenv, an import of ${SLOW_IMPORT_SECONDS} s) under load: no request waits for the import`, async () => {
    pushSlowImportTag(cluster, "v2-venv", "v2-slow");
    await upUnderLoad(stack, catalogText("v2-slow", { env: { GREETING: "a new environment too" } }));
    masters = await assertReexeced("v2-slow", masters);
  });

  it("a release whose app cannot start: the old master never stopped serving, the error comes from journald", async () => {
    pushBrokenTag(cluster, "v2-slow", "v2-broken");
    const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    const r = await stack.up("v2-broken");
    const { failed, failures } = await load.stop();
    assert.equal(r.ok, false);
    assert.match(
      r.error ?? "",
      /polls v2-broken failed its health check on [0-9.]+ \(gunicorn did not start: RuntimeError\): put back v2-slow; no further node moves/,
    );
    assert.equal(failed, 0, failures.join(" | "));
    for (const n of cluster.appNodes) {
      assert.equal(await stack.nodeRelease(n), "v2-slow", n.name);
      const s = await serving(cluster, n);
      assert.deepEqual([s.active, s.restarts, s.mainPid], ["active", "0", s.pidfile], `${n.name}: ${JSON.stringify(s)}`);
    }
    assertOk(await stack.up("v2-slow"));
  });

  it("removing the app stops and disables its unit (the plan's delete steps); deploying it again starts it", async () => {
    assertOk(await stack.up("apps: []\n"));
    for (const n of cluster.appNodes) {
      const s = await unitShow(cluster, n, "ActiveState", "UnitFileState");
      assert.deepEqual([s.ActiveState, s.UnitFileState], ["inactive", "disabled"], n.name);
      const left = await cluster.exec(n, `pgrep -u ${APP_IDENTITY.osUser} || true; test -e ${APP_IDENTITY.home} && echo home || true`);
      assert.equal(left.stdout.trim(), "", `${n.name} keeps: ${left.stdout}`);
    }
    assertOk(await stack.up("v2-venv"));
    for (const n of cluster.appNodes) {
      assert.equal(await stack.nodeRelease(n), "v2-venv", n.name);
      const s = await serving(cluster, n);
      assert.deepEqual([s.active, s.enabled, s.mainPid], ["active", "enabled", s.pidfile], `${n.name}: ${JSON.stringify(s)}`);
    }
  });
});

/**
 * A node whose gunicorn@.service predates the re-exec (cloud-init writes the unit on a node's first
 * boot only): Type=simple, no NotifyAccess, ExecReload a HUP. systemd would take the old master's
 * exit after a USR2 for the service's end, so lib-gunicorn.sh gives such a unit what it can do
 * (_unit_follows_reexec false): its own reload (HUP) for the same virtualenv, a restart for a new one.
 */
describe("e2e: a systemd node with an older gunicorn@ unit (no NotifyAccess=all) still upgrades and puts back", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack({ appNodeCount: 1, init: "systemd" });
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));
  const node = () => cluster.appNodes[0];

  it("v1 under the unit as it was before the re-exec (Type=simple, ExecReload HUP)", async () => {
    assertOk(await stack.up("v1"));
    // The unit the plan's cloud-init wrote, turned back into the old one, and gunicorn restarted
    // under it; then wait until both workers of the new master imported the app.
    const old = await cluster.exec(
      node(),
      `f=/etc/systemd/system/gunicorn@.service
sed -i -e 's/^Type=notify$/Type=simple/' -e '/^NotifyAccess=/d' -e 's/kill -s USR2/kill -s HUP/' $f && systemctl daemon-reload && systemctl restart ${UNIT}
for i in $(seq 150); do p=$(cat ${PIDFILE} 2>/dev/null) && [ "$(ls ${APP_IDENTITY.home}/shared/run/booted.$p 2>/dev/null | wc -l)" -ge 2 ] && exit 0; sleep 0.2; done; exit 1`,
    );
    assert.equal(old.code, 0, `the old unit did not start gunicorn: ${old.stderr}`);
    const u = await unitShow(cluster, node(), "Type", "NotifyAccess", "ExecReload");
    assert.deepEqual([u.Type, u.NotifyAccess], ["simple", "none"]);
    assert.match(u.ExecReload, /-s HUP/);
  });

  it("v1 -> v2 (same virtualenv) under load: the unit's reload (HUP), no failed request, no restart", async () => {
    const before = await serving(cluster, node());
    const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    const r = await stack.up("v2");
    const { requests, failed, failures } = await load.stop();
    assertOk(r);
    assert.equal(failed, 0, `${failed} of ${requests} requests failed: ${failures.join(" | ")}`);
    assert.equal(await stack.nodeRelease(node()), "v2");
    const now = await serving(cluster, node());
    assert.deepEqual([now.active, now.invocation, now.mainPid], ["active", before.invocation, before.mainPid], JSON.stringify(now));
  });

  it("v2 -> v2-venv (a new virtualenv): the unit restarts with the new interpreter", async () => {
    pushNewVenvTag(cluster, "v2", "v2-venv");
    const before = await serving(cluster, node());
    assertOk(await stack.up("v2-venv"));
    assert.equal(await stack.nodeRelease(node()), "v2-venv");
    const now = await serving(cluster, node());
    assert.equal(now.active, "active");
    assert.notEqual(now.invocation, before.invocation, "the unit was not restarted");
    assert.equal(now.mainPid, now.pidfile);
  });

  it("a release whose app cannot start is put back: v2-venv serves, the unit active", async () => {
    pushBrokenTag(cluster, "v2-venv", "v2-venv-broken");
    const r = await stack.up("v2-venv-broken");
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /polls v2-venv-broken failed its health check on [0-9.]+ \(.+\): put back v2-venv; no further node moves/);
    assert.equal(await stack.nodeRelease(node()), "v2-venv");
    const s = await serving(cluster, node());
    assert.deepEqual([s.active, s.mainPid], ["active", s.pidfile], JSON.stringify(s));
    assertOk(await stack.up("v2-venv"));
  });
});
