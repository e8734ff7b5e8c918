/**
 * The way into the rollout (issue 12, sections 1-3), on real local nodes: a first deploy that
 * fails leaves nothing running, a database that cannot be reached is named as such, apps whose
 * settings read nothing from the environment deploy unchanged through the platform's settings
 * module, their uploads land in their own bucket of a real S3 API, and the preflight names what
 * would otherwise fail only at the health check or in front of users.
 */
import { strict as assert } from "assert";
import * as http from "node:http";
import { Cluster, NodeHandle } from "../../testbed/cluster";
import { ApplyResult } from "../../testbed/executor";
import { APP, APP_IDENTITY, catalogText, DOMAIN, get, Load, LocalStack, PORT, stylesheetOf } from "../../testbed/localStack";
import { S3_ACCESS_KEY, S3_SECRET_KEY, S3Server } from "../../testbed/s3Server";
import { sshRun } from "../../testbed/sshClient";
import { pushTag } from "../../testbed/fixtureTags";
import { assertOk, withLocalStack } from "./testBed";

const E2E_TIMEOUT = 15 * 60 * 1000;

/** What runs of the app on a node: its current link, the previous link, a listener on its port. */
async function leftOn(cluster: Cluster, node: NodeHandle): Promise<string> {
  const r = await cluster.exec(
    node,
    `test -L ${APP_IDENTITY.home}/current && echo "current -> $(readlink ${APP_IDENTITY.home}/current)"; test -L ${APP_IDENTITY.home}/previous && echo "previous -> $(readlink ${APP_IDENTITY.home}/previous)"; ss -ltn | grep -q ':${PORT} ' && echo listening; pgrep -f '[g]unicorn_main.py' >/dev/null && echo gunicorn; true`,
  );
  return r.stdout.trim();
}

describe("e2e: first deploys and failed steps say what failed and leave nothing running", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack();
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  it("a first release that fails its health check stops its gunicorn and leaves no current link", async () => {
    const r = await stack.up("v4");
    assert.equal(r.ok, false);
    assert.match(
      r.error ?? "",
      /polls v4 failed its health check on [0-9.]+ \(HTTP 503\); there was no release before it: polls stopped on this node/,
    );
    assert.equal(await leftOn(cluster, cluster.appNodes[0]), "", "node-1 keeps something of the failed release");
  });

  it("a first deploy that succeeds leaves no previous link (nothing served before it)", async () => {
    assertOk(await stack.up("v1"));
    for (const n of cluster.appNodes) {
      assert.equal(await leftOn(cluster, n), `current -> ${APP_IDENTITY.home}/releases/v1\nlistening\ngunicorn`);
    }
  });

  it("a database that refuses connections: the migrate step's summary is the connection error, and it changes nothing", async () => {
    const node1 = cluster.appNodes[0];
    const env = `${APP_IDENTITY.home}/shared/env`;
    // The expand step of the release that serves (v1), run as the plan declares it, with the app's
    // own DATABASE_URL pointing where nothing listens (the port after the database's). A rollout
    // cannot be broken this way: its install step writes the environment file afresh from stdin.
    const expand = (await stack.plan("v1")).resources.find((r) => r.name === `${APP}-expand`);
    assert.ok(expand, "the plan has no expand step");
    await cluster.exec(
      node1,
      `cp -p ${env} ${env}.saved && sed -i "s/:${cluster.postgres.port}\\//:${cluster.postgres.port + 1}\\//" ${env}`,
    );
    try {
      const r = await sshRun(cluster, node1, String(expand.inputs.create), "");
      assert.notEqual(r.code, 0, r.stdout);
      const summary =
        r.stderr
          .split("\n")
          .filter((l) => l.trim() !== "")
          .pop() ?? "";
      assert.match(
        summary,
        /^fleet: error: polls v1: reading the migrations applied to the database failed: .*OperationalError: .*port \d+ failed: Connection refused; nothing was changed$/,
      );
    } finally {
      await cluster.exec(node1, `mv ${env}.saved ${env}`);
    }
    assertOk(await stack.up("v2"));
    assert.match((await get(`http://${cluster.staticHost.address}/`, DOMAIN)).body, /release: v2/);
  });
});

/** A POST with a body through nginx with the app's Host header (fetch() would drop Host). */
function post(url: string, host: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: "POST",
        headers: { Host: host, "Content-Type": "application/octet-stream", "Content-Length": Buffer.byteLength(body) },
        agent: false,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", (e) => resolve({ status: 0, body: e.message }));
    req.end(body);
  });
}

/** The stage step's lines of the preflight (and the platform's report) on the first node. */
function stageLines(r: ApplyResult): string[] {
  const stage = r.ran.find((x) => x.name === `${APP}-install-node-1`);
  assert.ok(stage, "the stage step did not run");
  return stage.stderr.split("\n").filter((l) => /^fleet: (error|warning|platform)/.test(l));
}

describe("e2e: an app whose settings read nothing from the environment deploys unchanged; media in its S3 bucket", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack();
  let cluster: Cluster;
  let stack: LocalStack;
  let s3: S3Server;
  let bucket = "";
  let catalog = "";
  before(async () => {
    ({ cluster, stack } = bed);
    stack.secrets = { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY };
    catalog = catalogText("v11", { secrets: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], env: {} });
    const planned = await stack.plan(catalog);
    const media = planned.resources.find(
      (r) => r.type === "aws:s3/bucket:Bucket" && (r.inputs.tags as Record<string, string> | undefined)?.app === APP,
    );
    bucket = String(media?.inputs.bucket ?? "");
    assert.ok(bucket, "the plan declares the app's media bucket");
    s3 = await S3Server.start(cluster.postgres.host, [bucket]);
    catalog = catalogText("v11", { secrets: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], env: { AWS_S3_ENDPOINT_URL: s3.endpoint } });
  });
  after(async () => s3?.stop());

  it("v11 (hard-coded DATABASES, ALLOWED_HOSTS, STATIC_URL and STATIC_ROOT; DJANGO_SECRET_KEY) serves its page and hashed assets; stage says what the platform set", async () => {
    const r = await stack.up(catalog);
    assertOk(r);
    for (const n of cluster.appNodes) assert.equal(await stack.nodeRelease(n), "v11");
    const page = await get(`http://${cluster.staticHost.address}/`, DOMAIN);
    assert.equal(page.status, 200);
    const css = stylesheetOf(page.body);
    assert.ok(css, `the page links a hashed stylesheet under /static/: ${page.body}`);
    assert.equal((await get(`http://${cluster.staticHost.address}${css}`, DOMAIN)).status, 200);
    assert.deepEqual(
      stageLines(r).filter((l) => l.startsWith("fleet: platform")),
      [
        "fleet: platform set: DATABASES, ALLOWED_HOSTS, STATIC_URL, STATIC_ROOT, SECRET_KEY, SECURE_PROXY_SSL_HEADER, CSRF_TRUSTED_ORIGINS, AWS_STORAGE_BUCKET_NAME, AWS_S3_REGION_NAME, AWS_S3_ENDPOINT_URL, AWS_S3_ADDRESSING_STYLE, DEFAULT_FILE_STORAGE, DEBUG",
      ],
    );
    // check --deploy's findings are listed, and do not stop the release.
    assert.ok(
      stageLines(r).some((l) => /^fleet: warning: polls v11: check --deploy security\.W004: /.test(l)),
      stageLines(r).join("\n"),
    );
  });

  it("an upload goes to the app's own bucket on a real S3 API and is served back, with no app change", async () => {
    const content = `uploaded at ${Date.now()}`;
    const saved = await post(`http://${cluster.staticHost.address}/uploads/note.txt`, DOMAIN, content);
    assert.equal(saved.status, 200, saved.body);
    const { name, storage } = JSON.parse(saved.body) as { name: string; storage: string };
    assert.equal(storage, "storages.backends.s3boto3.S3Boto3Storage");
    assert.equal((await s3.object(bucket, name))?.toString("utf8"), content, `${name} is not in bucket ${bucket}`);
    const back = await get(`http://${cluster.staticHost.address}/${name}`, DOMAIN);
    assert.equal(back.status, 200);
    assert.equal(back.body, content);
  });

  it("v11 -> v2 and back under load: zero failed requests", async () => {
    for (const tag of ["v2", "v11"]) {
      const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
      const r = await stack.up(catalog.replace(/alpha: v11/, `alpha: ${tag}`));
      const { requests, failed, failures } = await load.stop();
      assertOk(r);
      assert.ok(requests > 50, `only ${requests} requests`);
      assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
      for (const n of cluster.appNodes) assert.equal(await stack.nodeRelease(n), tag);
    }
  });

  it("settings that say DEBUG = True run with DEBUG off (overrides.debug): stage warns, a missing page shows no debug page", async () => {
    pushTag(cluster, "v11", "v11-debug", "true");
    const r = await stack.up(
      catalogText("v11-debug", {
        secrets: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
        env: { AWS_S3_ENDPOINT_URL: s3.endpoint, DJANGO_DEBUG: "1" },
      }),
    );
    assertOk(r);
    assert.ok(
      stageLines(r).includes(
        "fleet: warning: polls v11-debug: DEBUG: is True in pollsite.settings: the platform sets DEBUG = False (overrides.debug); set DEBUG = False there too, so the app runs the same elsewhere",
      ),
      stageLines(r).join("\n"),
    );
    const missing = await get(`http://${cluster.staticHost.address}/no-such-page/`, DOMAIN);
    assert.equal(missing.status, 404);
    assert.doesNotMatch(missing.body, /URLconf|Traceback|DEBUG = True/, "Django's debug page reached a visitor");
    assertOk(await stack.up(catalog));
  });
});

describe("e2e: the preflight names the app, the tag, the setting and the fix, before any node switches", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack();
  let cluster: Cluster;
  let stack: LocalStack;
  before(async () => {
    ({ cluster, stack } = bed);
    assertOk(await stack.up("v11"));
  });

  /** `up` of CATALOG must fail at stage with ERROR as its summary, with no node moved off v11. */
  async function refused(catalog: string, error: RegExp): Promise<string[]> {
    const r = await stack.up(catalog);
    assert.equal(r.ok, false, "the release was not stopped");
    // The summary's last line, without the executor's "<step>: " prefix of a one-line error.
    assert.match(((r.error ?? "").split("\n").pop() ?? "").replace(/^polls-install-node-\d: /, ""), error);
    assert.ok(!r.ran.some((x) => x.name.includes("-switch-")), "a node switched");
    for (const n of cluster.appNodes) assert.equal(await stack.nodeRelease(n), "v11");
    return stageLines(r);
  }

  it("DEBUG on, SECURE_SSL_REDIRECT, a missing hashed asset: one line each, the first is the step's error; a committed SECRET_KEY is a warning", async () => {
    pushTag(
      cluster,
      "v11",
      "v11-unsafe",
      [
        `printf '\\nSECURE_SSL_REDIRECT = True\\nSECRET_KEY = "committed-key-0123456789abcdefghijklmnopqrstuvwxyz"\\n' >> pollsite/settings.py`,
        `sed -i 's#</head>#<link rel="stylesheet" href="{% static "polls/missing.css" %}"></head>#' polls/templates/polls/index.html`,
      ].join(" && "),
    );
    const lines = await refused(
      catalogText("v11-unsafe", { env: { DJANGO_DEBUG: "1" }, lines: ["overrides: { debug: false }"] }),
      /^fleet: error: polls v11-unsafe: DEBUG: is True: .*; set DEBUG = False in pollsite\.settings, or set the environment variable it reads in apps\.yaml env:, or turn overrides\.debug back on$/,
    );
    const expect = [
      /^fleet: error: polls v11-unsafe: DEBUG: is True: error pages would show tracebacks and settings to every visitor; set DEBUG = False in pollsite\.settings/,
      /^fleet: error: polls v11-unsafe: STATICFILES_DIRS: polls\/templates\/polls\/index\.html links \{% static 'polls\/missing\.css' %\}, which collectstatic did not collect: the page answers HTTP 500 .*; add the file to the app's static directory/,
      /^fleet: error: polls v11-unsafe: SECURE_SSL_REDIRECT: is True: the health check \(plain HTTP to gunicorn on the node, \/healthz\) would get HTTP 301 to https; set SECURE_SSL_REDIRECT = False in pollsite\.settings .*or add '\^healthz\$' to SECURE_REDIRECT_EXEMPT$/,
      /^fleet: warning: polls v11-unsafe: SECRET_KEY: a key is committed in the repository \(pollsite\/settings\.py:\d+\); the platform's SECRET_KEY replaces it; remove it from the repository/,
    ];
    for (const e of expect)
      assert.ok(
        lines.some((l) => e.test(l)),
        `no line matches ${e}:\n${lines.join("\n")}`,
      );
  });

  it("overrides changed for the release that serves: refused, the change comes with the next tag", async () => {
    await refused(
      catalogText("v11", { lines: ["overrides: { hosts: false }"] }),
      /^fleet: error: polls v11 serves on this node with overrides=database,hosts,static,secretKey,proxy,storage,debug deployChecks=warn healthCheck=\/healthz; a change to overrides=database,static,secretKey,proxy,storage,debug deployChecks=warn healthCheck=\/healthz takes effect with the next release tag$/,
    );
  });

  it("ALLOWED_HOSTS of the app's own (overrides.hosts: false) rejecting the health check's Host: DisallowedHost", async () => {
    pushTag(cluster, "v11", "v11-hosts", "true");
    await refused(
      catalogText("v11-hosts", { lines: ["overrides: { hosts: false }"] }),
      /^fleet: error: polls v11-hosts: ALLOWED_HOSTS: \['polls\.local', 'localhost'\] rejects polls\.example\.edu, the Host the health check and nginx send: every request would answer HTTP 400 \(DisallowedHost\); add 'polls\.example\.edu' to ALLOWED_HOSTS in pollsite\.settings, or turn overrides\.hosts back on/,
    );
  });

  it("the app's own STATIC_ROOT inside the release (overrides.static: false): the summary is collectstatic's error itself", async () => {
    pushTag(cluster, "v11", "v11-static", "true");
    await refused(
      catalogText("v11-static", { lines: ["overrides: { static: false }"] }),
      /^fleet: error: polls v11-static: collectstatic failed: PermissionError: \[Errno 13\] Permission denied: '\/srv\/app_polls\/releases\/\.partial-v11-static\/staticfiles'$/,
    );
  });

  it("STATIC_URL other than the one nginx serves (overrides.static: false)", async () => {
    pushTag(cluster, "v11", "v11-assets", `sed -i 's#^STATIC_ROOT = .*#STATIC_ROOT = os.environ["STATIC_ROOT"]#' pollsite/settings.py`);
    await refused(
      catalogText("v11-assets", { lines: ["overrides: { static: false }"] }),
      /^fleet: error: polls v11-assets: STATIC_URL: is '\/assets\/', but nginx serves this release's collected files at \/static\/: every asset would answer 404; remove STATIC_URL from pollsite\.settings and turn overrides\.static back on \(each release's files then have a URL of their own\), or set STATIC_URL = '\/static\/' there$/,
    );
  });

  it("check --deploy warnings stop the release where the catalog asks (deployChecks: fail)", async () => {
    pushTag(cluster, "v11", "v11-checks", "true");
    await refused(
      catalogText("v11-checks", { lines: ["deployChecks: fail"] }),
      /^fleet: error: polls v11-checks: check --deploy security\.W\d+: .*; see Django's deployment checklist$/,
    );
  });
});
