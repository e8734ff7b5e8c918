/**
 * App code never runs with the platform's rights (issue 18, sections 1 and 2), on real local
 * nodes whose deploy user has the sudoers rule cloud-init renders for an app node (the node
 * helper only), as a held-out probe would try it: an app whose repository vendors a wheel whose
 * .pth runs at every start of the virtualenv's Python (tests/e2e/probe) deploys, and what the probe
 * recorded, during stage and under gunicorn, is no right its app's user lacks; pipMode index's
 * install path does the same with a requirements file of local wheels only. A release whose tree
 * holds the platform's .fleet as a symlink into another app's release is refused, and that app's
 * record is untouched.
 */
import { strict as assert } from "assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { appIdentity } from "../../config/identity";
import { NODE_HELPER } from "../../rollout/layout";
import { Cluster, startCluster } from "../../testbed/cluster";
import { get, LocalStack } from "../../testbed/localStack";
import { pushTag } from "../../testbed/fixtureTags";
import { assertOk } from "./testBed";

const E2E_TIMEOUT = 20 * 60 * 1000;
const VICTIM = appIdentity("polls");
const PROBE = appIdentity("probe");
const PROBE_REPO = "uni-it/probe";
const WHEEL = "./vendor/probe-1.0-py3-none-any.whl";
const MAKE_WHEEL = path.join(__dirname, "probe", "make-wheel.py");
/** Where the probe records (tests/e2e/probe/fleet_probe.py): its user's log directory, else /tmp. */
const RECORDS = [`${PROBE.home}/shared/log/fleet-probe.jsonl`, "/tmp/fleet-probe.jsonl"];

interface ProbeRecord {
  user: string;
  uid: number;
  euid: number;
  argv: string;
  prefix: string;
  [right: string]: string | number | boolean;
}
/** What the probe tries that app code must never manage, wherever it runs. */
const NEVER = [
  "sudo_true",
  "sudo_id",
  "sudo_sh",
  "sudo_helper",
  "sudo_as_victim",
  "read_victim_env",
  "write_victim_release",
  "write_scripts",
  "write_helper",
  "write_etc",
  "write_deploy_home",
];
/** What it must not manage once its release serves: its own code and virtualenv. */
const NEVER_AT_RUN_TIME = ["write_venv", "write_code"];

/** A catalog of the fixture app (the victim) and the probe app, each at its tag. */
function catalog(pollsTag: string, probeTag: string): string {
  const app = (name: string, repo: string, port: number, tag: string) => [
    `  - name: ${name}`,
    `    repo: ${repo}`,
    `    domain: ${name}.example.edu`,
    "    settings: pollsite.settings",
    "    wsgi: pollsite.wsgi:application",
    `    port: ${port}`,
    "    healthCheck: /healthz",
    "    tags:",
    `      alpha: ${tag}`,
  ];
  return ["apps:", ...app("polls", "uni-it/polls", 8123, pollsTag), ...app("probe", PROBE_REPO, 8124, probeTag), ""].join("\n");
}

describe("e2e: app code never runs with the platform's rights (real nodes, the rendered sudoers)", function () {
  this.timeout(E2E_TIMEOUT);
  let cluster: Cluster;
  let stack: LocalStack;
  let work = "";
  const node = () => cluster.appNodes[0];
  const onNode = async (command: string) => (await cluster.exec(node(), command)).stdout.trim();
  const asDeploy = (command: string) => cluster.exec(node(), command, { asUser: cluster.sshUser });
  const records = async (): Promise<ProbeRecord[]> =>
    (await onNode(`cat ${RECORDS.join(" ")} 2>/dev/null || true`))
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as ProbeRecord);
  const probeTag = (name: string, requirements: string) =>
    pushTag(
      cluster,
      "v1",
      name,
      `mkdir -p vendor && python3 ${MAKE_WHEEL} vendor && printf '%s\\n' ${requirements} > requirements.txt && git add -A`,
      cluster.repositories[PROBE_REPO],
    );

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-privilege-"));
    const fixture = path.join(work, "polls.git");
    execFileSync("sh", [path.join(__dirname, "..", "..", "testbed", "fixture", "build-fixture.sh"), fixture]);
    cluster = await startCluster({ appNodeCount: 1, repositories: { "uni-it/polls": fixture, [PROBE_REPO]: fixture } });
    stack = new LocalStack(cluster, work, process.env.FLEET_E2E_LOG ? (l) => console.log(`      ${l}`) : undefined, { appSecrets: {} });
    // v1's requirements (Django, gunicorn, psycopg2: the node's system packages) and the probe's wheel.
    probeTag("v1-probe", `'Django>=3.2,<6' 'gunicorn>=20' 'psycopg2>=2.8' ${WHEEL}`);
  });
  after(async () => {
    await cluster?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("pipMode system: the release with the probe's wheel deploys, and the probe, during stage and under gunicorn, gains no right its user lacks", async () => {
    assertOk(await stack.up(catalog("v1", "v1-probe")));
    const page = await get(`http://${cluster.staticHost.address}/`, "probe.example.edu");
    assert.equal(page.status, 200, page.body.slice(0, 200));
    assert.match(page.body, /release: v1-probe/);
    const seen = await records();
    const uid = Number(await onNode(`id -u ${PROBE.osUser}`));
    // It ran (the test cannot pass vacuously): at stage (the import checks, compileall, Django's
    // commands, the preflight, the migration classifier) and under gunicorn.
    // (`python -m compileall -q DIR`: while site runs the .pth, argv still says -m.)
    for (const what of [
      `-m -q ${PROBE.home}/releases/.partial-v1-probe`,
      "manage.py collectstatic",
      "fleet_preflight.py",
      "fleet_migrations.py known",
      "gunicorn_main.py",
    ]) {
      assert.ok(
        seen.some((r) => r.argv.includes(what)),
        `the probe never ran in ${what}: ${seen.map((r) => r.argv).join(" | ")}`,
      );
    }
    for (const r of seen) {
      assert.deepEqual([r.user, r.uid, r.euid], [PROBE.osUser, uid, uid], `ran as ${r.user} in ${r.argv}`);
      for (const right of NEVER) assert.equal(r[right], false, `${right} in ${r.argv}`);
    }
    const atRunTime = seen.filter((r) => r.argv.includes("gunicorn_main.py"));
    for (const r of atRunTime) {
      for (const right of NEVER_AT_RUN_TIME) assert.equal(r[right], false, `${right} under gunicorn`);
    }
    assert.equal(await onNode("ls /etc/fleet-probe /home/deploy/.fleet-probe 2>/dev/null || true"), "", "the probe wrote outside its home");
    // The release and the virtualenv it built are the deploy user's, not writable by the app.
    const release = `${PROBE.home}/releases/v1-probe`;
    assert.equal(
      await onNode(`stat -c %U:%G ${release} ${release}/manage.py $(readlink -f ${release}/.fleet/venv)`),
      Array(3).fill(`deploy:${PROBE.osUser}`).join("\n"),
    );
    assert.equal(
      await onNode(
        `find ${release}/ $(readlink -f ${release}/.fleet/venv)/ \\( -perm /6022 -o -user ${PROBE.osUser} \\) ! -type l ! -path '*/.fleet/static*' | head -n 5`,
      ),
      "",
      "the app's user owns or may write something of its code or virtualenv",
    );
  });

  it("the deploy user's sudo is the node helper only: no shell, no file, no other user, no script of its own", async () => {
    for (const command of [
      "sudo -n true",
      "sudo -n bash -c true",
      "sudo -n sh -c true",
      `sudo -n cat ${VICTIM.home}/shared/env`,
      `sudo -n -u ${VICTIM.osUser} true`,
      `sudo -n ${NODE_HELPER} as root true`,
      `sudo -n ${NODE_HELPER} rm ${VICTIM.osUser} release ../../etc`,
    ]) {
      const r = await asDeploy(`${command} </dev/null`);
      assert.notEqual(r.code, 0, `${command} succeeded`);
    }
    // The scripts' copy is the deploy user's: what it writes there root never runs.
    const evil = await asDeploy(`printf 'id -u\\n' > /srv/fleet/evil.sh && sudo -n sh /srv/fleet/evil.sh`);
    assert.notEqual(evil.code, 0, evil.stdout);
    // A link where the helper expects the app's own directory is refused, never followed.
    const link = await asDeploy(
      `cd ${VICTIM.home} && mv releases releases.real && ln -s /etc releases && { sudo -n ${NODE_HELPER} build-dir ${VICTIM.osUser} release passwd; echo "status $?"; rm releases; mv releases.real releases; }`,
    );
    assert.match(link.stdout, /status 1/);
    assert.match(link.stderr, /^fleet: error: \/srv\/app_polls\/releases: .*symlink/m);
    assert.equal(await onNode("stat -c %U:%a /etc/passwd && test ! -e /etc/.partial-passwd && echo intact"), "root:644\nintact");
  });

  it("a tree with .fleet as a symlink into another app's release is refused in one line, and that app's record is untouched", async () => {
    const record = `cd ${VICTIM.home}/current/.fleet && cat tag commit venv-hash platform && readlink venv && ls`;
    const before = await onNode(record);
    assert.match(before, /^v1\n/);
    pushTag(
      cluster,
      "v1",
      "v1-dotfleet",
      "ln -s ../../../app_polls/current/.fleet .fleet && git add .fleet",
      cluster.repositories[PROBE_REPO],
    );
    const r = await stack.up(catalog("v1", "v1-dotfleet"));
    assert.equal(r.ok, false);
    assert.match(
      r.error ?? "",
      /v1-dotfleet has its own \.fleet at the top of the repository: the platform keeps its record of the release under that name; remove it from the repository/,
    );
    assert.equal(await onNode(record), before);
    const page = await get(`http://${cluster.staticHost.address}/`, "polls.example.edu");
    assert.match(page.body, /release: v1/);
  });

  it("pipMode index: the install path of a requirements file of local wheels runs as the app's user too", async () => {
    await onNode(`rm -f ${RECORDS.join(" ")}`);
    probeTag("v1-index", WHEEL);
    const index = new LocalStack(cluster, path.join(work, "index"), undefined, { appSecrets: {}, deploy: { pipMode: "index" } });
    const r = await index.up(catalog("v1", "v1-index"));
    // The test bed has no package index: the wheel installs from the release, then the gunicorn
    // the index mode adds when the requirements lack it cannot be fetched, and stage stops there.
    assert.equal(r.ok, false);
    // `python -c 'import gunicorn'`, the index mode's check, started the virtualenv's Python.
    const seen = (await records()).filter((r) => r.argv === "-c");
    assert.ok(seen.length > 0, "the probe never ran in the index mode's virtualenv");
    const uid = Number(await onNode(`id -u ${PROBE.osUser}`));
    for (const rec of seen) {
      assert.match(rec.prefix, new RegExp(`^${PROBE.home}/venvs/[0-9a-f]{16}$`));
      assert.deepEqual([rec.user, rec.uid, rec.euid], [PROBE.osUser, uid, uid], `ran as ${rec.user} in ${rec.argv}`);
      for (const right of NEVER) assert.equal(rec[right], false, `${right} in ${rec.argv}`);
    }
  });
});
