/**
 * The executor dials as @pulumi/command does, against a real sshd that refuses under load: an
 * app node whose MaxStartups is 2 (sshd drops every unauthenticated connection beyond two, as
 * its default 10:30:100 does beyond ten), and many steps at once. Dropped connections are dialled
 * again up to the connection's dialErrorLimit with the provider's back-off; a command that ran,
 * whatever it printed, never runs twice.
 */
import { strict as assert } from "assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Plan, PlanResource } from "../../offline/plan";
import { Cluster, startCluster } from "../../testbed/cluster";
import { apply, ApplyResult, EMPTY_STATE, REMOTE_COMMAND } from "../../testbed/executor";

describe("e2e: SSH connections sshd refuses under load are dialled again (testbed/executor.ts)", function () {
  this.timeout(10 * 60 * 1000);
  let cluster: Cluster;
  let work = "";
  before(async () => {
    cluster = await startCluster({ appNodeCount: 1, sshMaxStartups: "2" });
    work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-ssh-retry-"));
  });
  after(async () => {
    await cluster?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });
  const node = () => cluster.appNodes[0];

  /** A plan of remote commands on the node, none depending on another: all start at once. */
  function plan(commands: Record<string, string>, connection: Record<string, unknown> = {}): Plan {
    const resources: PlanResource[] = Object.entries(commands).map(([name, create]) => ({
      urn: `urn:pulumi:e2e::fleet::${REMOTE_COMMAND}::${name}`,
      type: REMOTE_COMMAND,
      name,
      parent: null,
      dependsOn: [],
      inputs: { connection: { host: node().address, user: cluster.sshUser, privateKey: cluster.privateKeyPem, ...connection }, create },
    }));
    return { stack: "e2e", resources, outputs: {} };
  }
  const run = (p: Plan): Promise<ApplyResult> => apply(EMPTY_STATE, p, { keyDir: work });
  /** Times sshd began dropping connections past MaxStartups (it logs the first drop of each spell). */
  const throttled = () =>
    cluster
      .sshdLog(node())
      .split("\n")
      .filter((l) => /beginning MaxStartups throttling/.test(l)).length;

  it("24 steps at once through a MaxStartups of 2: every one runs, exactly once, after the dials sshd dropped", async () => {
    const throttledBefore = throttled();
    const steps = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`step-${i}`, `echo step-${i} >>/tmp/ran; echo ok`]));
    // The program's connections dial without limit (-1), as while a new machine boots.
    const r = await run(plan(steps, { dialErrorLimit: -1 }));
    assert.ok(r.ok, r.error);
    assert.equal(r.ran.length, 24);
    const ran = (await cluster.exec(node(), "sort /tmp/ran")).stdout.trim().split("\n");
    assert.deepEqual(ran, Object.keys(steps).sort(), "each command ran once");
    const failed = r.ran.reduce((n, x) => n + x.failedDials, 0);
    assert.ok(failed > 0, "sshd dropped no connection: the test did not load it");
    assert.ok(throttled() > throttledBefore, "sshd logged no MaxStartups throttling");
  });

  it("gives up after dialErrorLimit failed dials (the provider's count), with ssh's own line as the error", async () => {
    // Nothing listens on port 2222: every dial is refused at once.
    const started = Date.now();
    const r = await run(plan({ refused: "echo never" }, { port: 2222, dialErrorLimit: 3 }));
    assert.equal(r.ok, false);
    assert.equal(r.ran[0].failedDials, 4, "a limit of 3: the 4th failed dial ends it (dials > limit)");
    assert.match(r.ran[0].stderr, /connect to host \S+ port 2222: Connection refused/);
    // 100 + 150 + 225 ms between the four dials.
    assert.ok(Date.now() - started >= 475, `the back-off waited ${Date.now() - started} ms`);
  });

  it("never runs a command twice, even one that exits 255 printing what a refused dial prints", async () => {
    const fake =
      "echo ran >>/tmp/once; echo 'kex_exchange_identification: Connection closed by remote host' >&2; echo 'Connection closed by 10.0.0.1 port 22' >&2; exit 255";
    const r = await run(plan({ looksRefused: fake }, { dialErrorLimit: -1 }));
    assert.equal(r.ok, false);
    assert.equal(r.ran[0].failedDials, 0);
    assert.equal((await cluster.exec(node(), "cat /tmp/once")).stdout, "ran\n");
  });
});
