/**
 * The publish key on real local nodes (issue 10, part 4): no machine holds a key that opens
 * every machine. The first node publishes an app's static files with that app's own key, which
 * the nginx host's sites step authorises for one thing only (render/publishAccess.ts). Tried
 * here with the key the plan gives the publish step, from the node, as an attacker with root
 * there would: what it can do, and everything it cannot.
 */
import { strict as assert } from "assert";
import { appIdentity } from "../../config/identity";
import { PUBLISH_USER, staticDir, WEB_ROOT } from "../../rollout/layout";
import { Cluster } from "../../testbed/cluster";
import { APP, get, LocalStack } from "../../testbed/localStack";
import { withLocalStack } from "./testBed";

describe("e2e: a node holds no key that logs in anywhere; an app's publish key only writes its static files", function () {
  this.timeout(15 * 60 * 1000);
  const bed = withLocalStack({ appNodeCount: 2 });
  let cluster: Cluster;
  let stack: LocalStack;
  const node = () => cluster.appNodes[0];
  const edge = () => cluster.staticHost;
  const appStatic = staticDir(WEB_ROOT, appIdentity(APP).osUser);
  /** A shell on the first node, as root, with the app's publish key in /tmp/k and an ssh line for it. */
  const withKey = (command: string) =>
    cluster.exec(
      node(),
      `ssh="ssh -F /dev/null -i /tmp/k -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"; ${command}`,
    );
  const onEdge = async (command: string) => (await cluster.exec(edge(), command)).stdout.trim();

  before(async () => {
    ({ cluster, stack } = bed);
    const r = await stack.up("v1");
    assert.ok(r.ok, `deploying v1 failed: ${r.error}`);
    // The key as the plan hands it to the publish step (its stdin), placed on the node (/tmp is its own) as an
    // attacker who took the node over during a publish would find it.
    const publish = (await stack.plan("v1")).resources.find((res) => res.name === `${APP}-publish`);
    const key = String(publish?.inputs.stdin);
    assert.match(key, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    const placed = await cluster.exec(node(), `umask 077 && base64 -d >/tmp/k <<'KEY'\n${Buffer.from(key).toString("base64")}\nKEY`);
    assert.equal(placed.code, 0, placed.stderr);
  });

  it("the publish step put the release's static files on the nginx host, as the publish user", async () => {
    assert.equal(
      await onEdge(`stat -c %U ${appStatic} && find ${appStatic} -type f ! -user ${PUBLISH_USER} | wc -l`),
      `${PUBLISH_USER}\n0`,
    );
    assert.notEqual(await onEdge(`find ${appStatic} -type f | wc -l`), "0");
  });

  it("can write a file into the app's static directory (what it is for)", async () => {
    const r = await withKey(
      `echo written-by-key >/tmp/probe.txt && rsync -rt -e "$ssh" /tmp/probe.txt ${PUBLISH_USER}@${edge().address}:.`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await onEdge(`cat ${appStatic}/probe.txt`), "written-by-key");
  });

  it("cannot run a command or get a shell", async () => {
    const r = await withKey(`$ssh ${PUBLISH_USER}@${edge().address} 'id; cat /etc/shadow' 2>&1; echo "exit=$?"`);
    assert.doesNotMatch(r.stdout, /uid=|root:/);
    assert.match(r.stdout, /exit=[1-9]/);
    const tty = await withKey(`$ssh -tt ${PUBLISH_USER}@${edge().address} 2>&1; echo "exit=$?"`);
    assert.doesNotMatch(tty.stdout, /\$ |# /);
    assert.match(tty.stdout, /exit=[1-9]/);
  });

  it("cannot read anything back, not even the app's own files", async () => {
    const r = await withKey(
      `rsync -rt -e "$ssh" ${PUBLISH_USER}@${edge().address}:. /tmp/read-back/ 2>&1; echo "exit=$?"; ls /tmp/read-back 2>/dev/null | wc -l`,
    );
    assert.match(r.stdout, /exit=[1-9]/);
    assert.match(r.stdout.trim(), /\n0$/, "nothing came back");
  });

  it("cannot write outside the app's static directory (another app's, the web root, the nginx config)", async () => {
    for (const target of ["../../app_other/static/", "../", `${WEB_ROOT}/`, "/etc/nginx/conf.d/"]) {
      await withKey(`echo outside >/tmp/evil.conf && rsync -rt -e "$ssh" /tmp/evil.conf ${PUBLISH_USER}@${edge().address}:${target} 2>&1`);
    }
    assert.equal(await onEdge(`find / -xdev -name evil.conf 2>/dev/null | grep -v '^${appStatic}/' | wc -l`), "0");
  });

  it("deletes nothing outside the app's static directory (its deletes prune old releases there only)", async () => {
    const outside = [`${WEB_ROOT}/keep-me`, `${WEB_ROOT}/app_other/static/keep-me`];
    assert.equal(
      (await cluster.exec(edge(), `mkdir -p ${WEB_ROOT}/app_other/static && for f in ${outside.join(" ")}; do echo x >$f; done`)).code,
      0,
    );
    for (const target of ["../../app_other/static/", "../", `${WEB_ROOT}/`]) {
      await withKey(`mkdir -p /tmp/empty && rsync -r --delete -e "$ssh" /tmp/empty/ ${PUBLISH_USER}@${edge().address}:${target} 2>&1`);
    }
    assert.equal(await onEdge(`ls ${outside.join(" ")} | wc -l`), "2");
  });

  it("cannot plant a symlink that nginx would follow out of the directory", async () => {
    const r = await withKey(`ln -sfn /etc/passwd /tmp/leak && rsync -rtl -e "$ssh" /tmp/leak ${PUBLISH_USER}@${edge().address}:. 2>&1`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(await onEdge(`readlink ${appStatic}/leak`), /^\/rsyncd-munged\//);
    const served = await get(`http://${edge().address}/static/leak`, "polls.example.edu");
    assert.notEqual(served.status, 200);
    assert.doesNotMatch(served.body, /root:x:0:0/);
  });

  it("cannot forward connections through the nginx host", async () => {
    // -W asks the server for a TCP channel at once (what any -L/-D forward does per connection).
    const r = await withKey(`timeout 60 $ssh -W 127.0.0.1:80 ${PUBLISH_USER}@${edge().address} </dev/null 2>&1; echo "exit=$?"`);
    assert.match(r.stdout, /administratively prohibited|forwarding failed|forwarding.*disabled/i);
    assert.match(r.stdout, /exit=[1-9]/);
    assert.doesNotMatch(r.stdout, /exit=124/, "the forward was not refused: it hung");
  });

  it("works only from an app node's address", async () => {
    const key = await cluster.exec(node(), "base64 -w0 /tmp/k");
    const r = await cluster.exec(
      edge(),
      `umask 077 && echo ${key.stdout.trim()} | base64 -d >/tmp/k && echo x >/tmp/from-edge &&
      rsync -rt -e "ssh -F /dev/null -i /tmp/k -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null" /tmp/from-edge ${PUBLISH_USER}@${edge().address}:. 2>&1; echo "exit=$?"`,
    );
    assert.match(r.stdout, /exit=[1-9]/);
    assert.equal(await onEdge(`test -e ${appStatic}/from-edge && echo there || echo absent`), "absent");
  });

  it("after a deploy, neither a node nor the nginx host keeps an SSH private key (host keys aside)", async () => {
    await cluster.exec(node(), "rm -f /tmp/k /tmp/probe.txt /tmp/evil.conf /tmp/leak");
    await cluster.exec(edge(), "rm -f /tmp/k");
    for (const host of [...cluster.appNodes, edge()]) {
      const found = await cluster.exec(
        host,
        "grep -rls -e 'OPENSSH PRIVATE KEY' -e 'BEGIN RSA PRIVATE KEY' /srv /home /tmp /var/tmp /var/www /etc 2>/dev/null | grep -v '^/etc/ssh/ssh_host_' || true",
      );
      assert.equal(found.stdout.trim(), "", `${host.name} keeps a private key`);
    }
  });
});
