/**
 * lib-gunicorn.sh's path for a machine without systemd, on the test bed's plain nodes (`init:
 * "plain"`: sshd is PID 1): gunicorn daemonised with a pidfile, signalled directly (USR2), logging
 * to shared/log/gunicorn.log. Every other e2e file runs on systemd nodes, as production does; this
 * one keeps the other path proved: an upgrade under load with no failed request, and a release
 * that cannot start put back with the reason from the log file.
 */
import { strict as assert } from "assert";
import { Cluster } from "../../testbed/cluster";
import { APP_IDENTITY, DOMAIN, Load, LocalStack } from "../../testbed/localStack";
import { pushBrokenTag } from "../../testbed/fixtureTags";
import { assertOk, withLocalStack } from "./testBed";

const E2E_TIMEOUT = 10 * 60 * 1000;
const HOME = APP_IDENTITY.home;

describe("e2e: plain app nodes (no systemd: gunicorn daemonised, signalled directly)", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack({ appNodeCount: 1, init: "plain" });
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  const node = () => cluster.appNodes[0];
  /** The master in gunicorn's pidfile, if that process is alive. */
  const master = async () =>
    (await cluster.exec(node(), `p=$(cat ${HOME}/shared/run/gunicorn.pid) && test -d /proc/$p && echo $p`)).stdout.trim();

  it("fresh deploy of v1: no systemd on the node; gunicorn runs daemonised, logging to shared/log", async () => {
    assertOk(await stack.up("v1"));
    assert.notEqual((await cluster.exec(node(), "cat /proc/1/comm")).stdout.trim(), "systemd");
    assert.equal((await cluster.exec(node(), "test -d /run/systemd/system && echo systemd")).stdout.trim(), "");
    assert.equal(await stack.nodeRelease(node()), "v1");
    assert.match(await master(), /^\d+$/);
    const log = await cluster.exec(node(), `cat ${HOME}/shared/log/gunicorn.log`);
    assert.match(log.stdout, /Booting worker with pid/);
  });

  it("v1 -> v2 under continuous load: zero failed requests, a new master (USR2)", async () => {
    const before = await master();
    const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    const r = await stack.up("v2");
    const { requests, failed, failures } = await load.stop();
    assertOk(r);
    assert.ok(requests > 50, `only ${requests} requests during the rollout`);
    assert.equal(failed, 0, `${failed} of ${requests} requests failed: ${failures.join(" | ")}`);
    assert.equal(await stack.nodeRelease(node()), "v2");
    const after = await master();
    assert.match(after, /^\d+$/);
    assert.notEqual(after, before, "the master is the old one");
    assert.equal(
      (await cluster.exec(node(), `test -d /proc/${before} && echo alive`)).stdout.trim(),
      "",
      `the old master ${before} still runs`,
    );
  });

  it("a release whose app cannot start: put back v2 with no failed request, the reason from the log file", async () => {
    pushBrokenTag(cluster, "v2", "v2-broken");
    const before = await master();
    const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    const r = await stack.up("v2-broken");
    const { failed, failures } = await load.stop();
    assert.equal(r.ok, false);
    assert.match(
      r.error ?? "",
      /polls v2-broken failed its health check on [0-9.]+ \(gunicorn did not start: RuntimeError\): put back v2; no further node moves/,
    );
    assert.equal(failed, 0, failures.join(" | "));
    assert.equal(await stack.nodeRelease(node()), "v2");
    // The put-back was a re-exec too: a new master with v2, the one of before gone, no other left.
    const after = await master();
    assert.match(after, /^\d+$/);
    assert.notEqual(after, before);
    const left = await cluster.exec(
      node(),
      `test -e ${HOME}/shared/run/gunicorn.pid.2 && echo pidfile.2; pgrep -u ${APP_IDENTITY.osUser} -P 1 || true`,
    );
    assert.equal(left.stdout.trim(), after, "a master other than the serving one, or the pidfile of one, is left");
    assertOk(await stack.up("v2"));
  });
});
