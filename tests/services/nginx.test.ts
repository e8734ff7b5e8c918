// The nginx host's config: generated as pure text, then published with the exact command the
// EdgeHost component runs, against a real nginx (Debian's) on loopback with its own prefix.
// Needs root: nginx, and the publish user in a private mount namespace (unshare --mount).
import { appIdentity } from "../../config/identity";
import { strict as assert } from "assert";
import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as tls from "tls";
import * as os from "os";
import * as path from "path";
import { createHash } from "crypto";
import {
  accessLogFile,
  ACCESS_LOG_FIELDS,
  END_MARKER,
  FILE_MARKER,
  MAINTENANCE_RETRY_AFTER_SECONDS,
  NginxApp,
  renderKeys,
  renderNginxFiles,
  renderPublishInput,
  renderSites,
  SERVER_NAMES_FILE,
  serverNamesHash,
  tlsFileNames,
  Upstreams,
} from "../../render/nginx";
import { renderAccess } from "../../render/publishAccess";
import { ed25519KeyPair } from "../../render/sshKeyPair";
import { PUBLISH_USER } from "../../rollout/layout";
import { publishCommand } from "../../components/infra/edgeHost";
import { TlsFiles } from "../../config/tlsConfig";
import { IssuedCertificate, issue, makeCa, removeCa, TestCa } from "../helpers/certificates";

/** A real public key per app (as components/app/appKeys.ts derives them: its deploy key, which also publishes). */
const publicKey = (app: string) => ed25519KeyPair(createHash("sha256").update(app).digest()).publicKeyOpenssh;
const APPS: NginxApp[] = [
  { name: "wiki", domain: "wiki.example.edu", port: 8102 },
  { name: "blog", domain: "blog.example.edu", port: 8101 },
];

/** Both apps serving on both nodes. */
const BOTH: Upstreams = { blog: ["10.0.2.11", "10.0.3.12"], wiki: ["10.0.2.11", "10.0.3.12"] };

/** A legal domain of exactly `length` characters under .edu: labels of at most 63 characters. */
function domainOf(length: number, seed: string): string {
  const labels: string[] = [];
  // What the labels and their dots take before "edu".
  for (let left = length - 3; left > 0;) {
    let take = Math.min(63, left - 1);
    if (left - (take + 1) === 1) take -= 1; // a label needs one character at least
    labels.push(seed.repeat(take).slice(0, take));
    left -= take + 1;
  }
  const name = [...labels, "edu"].join(".");
  assert.equal(name.length, length);
  return name;
}

/** Names at the limits: 253 characters (several, as a stack may have many), and 47 (the first a 64-byte bucket refuses is 46). */
const LONG_APPS: NginxApp[] = [
  ...["a", "b", "c", "d", "e", "f", "g", "h"].map((c, i) => ({ name: `long-${c}`, domain: domainOf(253, `${c}x${i}`), port: 8200 + i })),
  { name: "mid", domain: domainOf(47, "m"), port: 8300 },
];

/** A release's commit: its own static files are under /static/<commit>/ (node/rollout/static.sh). */
const RELEASE_COMMIT = "0123456789abcdef0123456789abcdef01234567";

describe("nginx config generation (pure)", () => {
  it("writes one file per app, in name order, with an upstream of the nodes it serves on", () => {
    const files = renderNginxFiles(APPS, BOTH);
    assert.deepEqual(Object.keys(files), ["fleet-blog.conf", "fleet-wiki.conf"]);
    const blog = files["fleet-blog.conf"];
    assert.match(
      blog,
      /upstream fleet_blog \{\n {4}server 10\.0\.2\.11:8101 max_fails=2 fail_timeout=5s;\n {4}server 10\.0\.3\.12:8101 max_fails=2 fail_timeout=5s;/,
    );
    assert.match(blog, /server_name blog\.example\.edu;/);
    assert.match(blog, /location \/static\/ \{\n {8}alias \/var\/www\/app_blog\/static\/;/);
    assert.match(blog, /proxy_pass http:\/\/fleet_blog;/);
    assert.match(blog, /proxy_next_upstream error timeout http_502 http_503;/);
    assert.match(blog, /proxy_set_header Host \$host;/);
    assert.doesNotMatch(blog, /wiki/);
  });

  it("lists exactly the nodes an app serves on: a node no app switched on is in no upstream, an app serving nowhere has no site", () => {
    const files = renderNginxFiles(APPS, { blog: ["10.0.3.12"], wiki: [] });
    assert.deepEqual(Object.keys(files), ["fleet-blog.conf"]);
    assert.match(
      files["fleet-blog.conf"],
      /upstream fleet_blog \{\n {4}server 10\.0\.3\.12:8101 max_fails=2 fail_timeout=5s;\n {4}keepalive 16;/,
    );
    assert.doesNotMatch(files["fleet-blog.conf"], /10\.0\.2\.11/);
    assert.deepEqual(renderNginxFiles(APPS, {}), {});
    // A certificate is published all the same: its key must outlive the time the app serves nowhere.
    const input = renderSites(APPS, { blog: ["10.0.3.12"] }, { wiki: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n" });
    assert.match(input, /@@fleet-file fleet-wiki-[0-9a-f]{12}\.crt\n/);
    assert.doesNotMatch(input, /@@fleet-file fleet-wiki\.conf/);
  });

  it("is deterministic: node and app order do not change the text", () => {
    const a = renderPublishInput(renderNginxFiles(APPS, BOTH));
    const b = renderPublishInput(
      renderNginxFiles([...APPS].reverse(), { wiki: ["10.0.3.12", "10.0.2.11"], blog: ["10.0.3.12", "10.0.2.11", "10.0.3.12"] }),
    );
    assert.equal(a, b);
  });

  it("frames the files for the publish script and ends with the end marker", () => {
    const input = renderPublishInput({ "fleet-b.conf": "b\n", "fleet-a.conf": "a\n" });
    assert.equal(input, `${FILE_MARKER}fleet-a.conf\na\n${FILE_MARKER}fleet-b.conf\nb\n${END_MARKER}\n`);
  });

  it("sizes the server-names hash from the longest domain: four of it per bucket, up to 253 characters", () => {
    assert.deepEqual(serverNamesHash(APPS.map((a) => a.domain)), { bucketSize: 256, maxSize: 512 });
    assert.equal(serverNamesHash([domainOf(47, "m")]).bucketSize, 512);
    assert.equal(serverNamesHash([domainOf(253, "x")]).bucketSize, 2048);
    assert.equal(serverNamesHash(Array.from({ length: 300 }, (_, i) => `app${i}.example.edu`)).maxSize, 2048);
    const input = renderSites(LONG_APPS, {}, {});
    assert.match(
      input,
      new RegExp(`${FILE_MARKER}${SERVER_NAMES_FILE}\\n(#.*\\n)?server_names_hash_bucket_size 2048;\\nserver_names_hash_max_size 512;\\n`),
    );
  });

  it("refuses values that could inject nginx directives", () => {
    assert.throws(
      () => renderNginxFiles([{ name: "blog", domain: "blog.example.edu; include /etc/passwd", port: 8101 }], { blog: ["10.0.0.1"] }),
      /domain/,
    );
    assert.throws(() => renderNginxFiles([{ name: "Blog;", domain: "blog.example.edu", port: 8101 }], {}), /app name/);
    assert.throws(() => renderNginxFiles(APPS, { blog: ["10.0.0.1:80"] }), /blog: node address "10\.0\.0\.1:80"/);
    assert.throws(() => renderNginxFiles([{ name: "blog", domain: "blog.example.edu", port: 80 }], { blog: ["10.0.0.1"] }), /port/);
    assert.throws(() => renderNginxFiles(APPS, { shop: ["10.0.0.1"] }), /upstream for "shop", which is not one of the apps/);
    assert.throws(() => renderNginxFiles([APPS[0], { ...APPS[1], domain: APPS[0].domain }], {}), /two apps/);
  });
});

// ---- a real nginx ---------------------------------------------------------------------------------

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

interface Backend {
  server: http.Server;
  status: number;
  /** How long it takes to answer a request for /slow. */
  slowMs: number;
  /** Called when a request arrives. */
  onRequest?: (path: string) => void;
}

/** A stand-in app node: answers with its own address and the Host header it received. */
function startBackend(host: string, port: number): Promise<Backend> {
  const backend: Backend = { server: http.createServer(), status: 200, slowMs: 0 };
  backend.server.on("request", (req, res) => {
    backend.onRequest?.(req.url ?? "");
    const answer = () => {
      res.writeHead(backend.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ node: host, host: req.headers.host, path: req.url }));
    };
    if (req.url === "/slow") setTimeout(answer, backend.slowMs);
    else answer();
  });
  return new Promise((resolve) => backend.server.listen(port, host, () => resolve(backend)));
}

function get(port: number, host: string, urlPath: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, headers: { host }, agent: false }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

interface TlsAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Serial number of the certificate the server presented. */
  serial: string;
}

/** GET over HTTPS with SNI `host`, trusting only `ca`. */
function getTls(port: number, host: string, urlPath: string, ca: string): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, path: urlPath, servername: host, headers: { host }, ca, agent: false }, (res) => {
      const serial = (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber;
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, serial }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * A real nginx (Debian's) on loopback with its own prefix and free ports, its include and
 * certificate directories not made yet (the publish script must make them), and stand-in app
 * nodes behind it serving every app on `appPort`. Static files of app "blog" are on disk.
 */
class TestNginx {
  readonly confDir: string;
  readonly tlsDir: string;
  readonly nginxConf: string;
  /** The host's /etc as the publish script sees it: a copy, so the publish user it makes stays in the test. */
  readonly etc: string;
  readonly webRoot: string;
  backends: Backend[] = [];
  private constructor(
    readonly dir: string,
    readonly nodes: string[],
    readonly listenPort: number,
    readonly tlsPort: number,
    readonly appPort: number,
  ) {
    this.confDir = path.join(dir, "conf.d-not-yet");
    this.tlsDir = path.join(dir, "fleet-tls-not-yet");
    this.nginxConf = path.join(dir, "nginx.conf");
    this.etc = path.join(dir, "etc");
    this.webRoot = path.join(dir, "www");
  }

  static async start(nodes: string[]): Promise<TestNginx> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-nginx-"));
    fs.chmodSync(dir, 0o755); // workers run as nobody
    const site = new TestNginx(dir, nodes, await freePort(), await freePort(), await freePort());
    execFileSync("cp", ["-a", "/etc", site.etc]);
    const staticDir = path.join(dir, "www", appIdentity("blog").osUser, "static", "css");
    fs.mkdirSync(staticDir, { recursive: true });
    fs.writeFileSync(path.join(staticDir, "site.0123456789ab.css"), "body{}\n");
    fs.writeFileSync(path.join(staticDir, "site.css"), "body{}\n");
    const releaseDir = path.join(dir, "www", appIdentity("blog").osUser, "static", RELEASE_COMMIT, "css");
    fs.mkdirSync(releaseDir, { recursive: true });
    fs.writeFileSync(path.join(releaseDir, "site.css"), "body{color:red}\n");
    execFileSync("chmod", ["-R", "a+rX", path.join(dir, "www")]);
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `${t}_temp_path ${dir}/tmp_${t};`).join(" ");
    fs.writeFileSync(
      site.nginxConf,
      `pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
    access_log ${dir}/access.log;
    ${temp}
    include ${site.confDir}/*.conf;
}
`,
    );
    execFileSync("nginx", ["-c", site.nginxConf, "-p", dir]);
    site.backends = await Promise.all(nodes.map((n) => startBackend(n, site.appPort)));
    return site;
  }

  /** The catalog's apps as served by these nodes. */
  apps(): NginxApp[] {
    return APPS.map((a) => ({ ...a, port: this.appPort }));
  }

  /** What the EdgeHost component puts on the sites step's stdin (by default every app serves on every node). */
  input(
    apps: NginxApp[],
    certificates: Record<string, TlsFiles> = {},
    upstreams: Upstreams = Object.fromEntries(apps.map((a) => [a.name, this.nodes])),
  ): string {
    const pems = Object.fromEntries(Object.entries(certificates).map(([app, c]) => [app, c.certificate]));
    return renderSites(apps, upstreams, pems, {
      listenPort: this.listenPort,
      tlsPort: this.tlsPort,
      tlsDir: this.tlsDir,
      staticRoot: path.join(this.dir, "www"),
      accessLogDir: this.dir,
    });
  }

  /** Runs a step's exact command line (as the component declares it) through a shell, with the
   *  files on stdin; /etc is the site's copy (a private mount namespace), so users it adds stay here. */
  publish(stdin: string, mode: "keys" | "sites" | "access" = "sites") {
    const paths = { confDir: this.confDir, tlsDir: this.tlsDir, nginxConf: this.nginxConf, webRoot: this.webRoot };
    return spawnSync(
      "unshare",
      ["--mount", "sh", "-c", 'mount --bind "$0" /etc && exec sh -c "$1"', this.etc, publishCommand(mode, paths)],
      { input: stdin, encoding: "utf8" },
    );
  }

  /** Runs a command as root in the site's /etc view (where the publish user exists). */
  inEtc(command: string) {
    return spawnSync("unshare", ["--mount", "sh", "-c", 'mount --bind "$0" /etc && exec sh -c "$1"', this.etc, command], {
      encoding: "utf8",
    });
  }

  /** publish, without blocking this process (whose stand-in nodes must go on answering meanwhile). */
  publishAsync(stdin: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const paths = { confDir: this.confDir, tlsDir: this.tlsDir, nginxConf: this.nginxConf };
    return new Promise((resolve) => {
      const child = spawn("sh", ["-c", publishCommand("sites", paths)]);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (status) => resolve({ status, stdout, stderr }));
      child.stdin.end(stdin);
    });
  }

  /** Both steps in the component's order: the keys (when there are any), then the sites. */
  publishWithKeys(certificates: Record<string, TlsFiles>) {
    if (Object.keys(certificates).length > 0) {
      const keys = this.publish(renderKeys(certificates), "keys");
      assert.equal(keys.status, 0, keys.stderr);
    }
    return this.publish(this.input(this.apps(), certificates));
  }

  masterPid(): number {
    return Number(fs.readFileSync(path.join(this.dir, "nginx.pid"), "utf8"));
  }

  stop(): void {
    for (const b of this.backends) b.server.close();
    try {
      process.kill(this.masterPid(), "SIGQUIT");
    } catch {
      // already gone
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("publish-nginx-config.sh against a real nginx", function () {
  this.timeout(30000);
  let site: TestNginx;
  let confDir: string;
  let listenPort: number;
  let backends: Backend[];
  const nodes = ["127.0.0.2", "127.0.0.3"];
  const input = (apps: NginxApp[]) => site.input(apps);
  /** The access step as the component runs it: a key per app, from the nodes' addresses. */
  const access = (names: string[]) =>
    site.publish(
      renderAccess(
        names.map((name) => ({ name, publicKey: publicKey(name) })),
        nodes,
        site.webRoot,
      ),
      "access",
    );
  const publish = (stdin: string) => site.publish(stdin);
  const apps = () => site.apps();
  const masterPid = () => site.masterPid();

  before(async () => {
    site = await TestNginx.start(nodes);
    ({ confDir, listenPort, backends } = site);
  });
  after(() => site.stop());

  it("creates the include dir, publishes every app and reloads nginx", async () => {
    const run = publish(input(apps()));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /published 2 file\(s\), nginx reloaded/);
    assert.deepEqual(fs.readdirSync(confDir).sort(), [SERVER_NAMES_FILE, "fleet-blog.conf", "fleet-wiki.conf"]);
    const res = await get(listenPort, "blog.example.edu", "/articles/1");
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body);
    assert.equal(body.host, "blog.example.edu", "Host header passed through");
    assert.equal(body.path, "/articles/1");
    assert.ok(nodes.includes(body.node));
  });

  it("maintenance: the app's requests get a 503 page from nginx (Retry-After, its name, its message), none reaches a node, its static files still serve; off again, the nodes answer", async () => {
    const requests: string[] = [];
    for (const b of backends) b.onRequest = (url) => requests.push(url);
    const logFile = accessLogFile("blog", site.dir);
    const logMark = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    try {
      const on = publish(
        input(
          apps().map((a) => (a.name === "blog" ? { ...a, maintenance: true, maintenanceMessage: "Back at 14:00 (database upgrade)." } : a)),
        ),
      );
      assert.equal(on.status, 0, on.stderr);
      const page = await get(listenPort, "blog.example.edu", "/articles/1");
      assert.equal(page.status, 503);
      assert.equal(page.headers["retry-after"], String(MAINTENANCE_RETRY_AFTER_SECONDS));
      assert.match(String(page.headers["content-type"]), /^text\/html/);
      assert.match(page.body, /<h1>blog is down for maintenance<\/h1><p>Back at 14:00 \(database upgrade\)\.<\/p>/);
      assert.equal((await get(listenPort, "blog.example.edu", "/static/css/site.css")).status, 200);
      assert.equal((await get(listenPort, "wiki.example.edu", "/")).status, 200, "another app is not in maintenance");
      assert.deepEqual(requests, ["/"], "only wiki's request reached a node");
      // Its access log says nginx answered the page itself: no upstream.
      const field = (line: string[], name: (typeof ACCESS_LOG_FIELDS)[number]) => line[ACCESS_LOG_FIELDS.indexOf(name)];
      const logged = fs
        .readFileSync(logFile, "utf8")
        .slice(logMark)
        .trim()
        .split("\n")
        .map((l) => l.split(" "))
        .filter((l) => l.join(" ").endsWith('"GET /articles/1"'));
      assert.deepEqual(
        logged.map((l) => [field(l, "status"), field(l, "upstream_addr")]),
        [["503", "-"]],
      );
    } finally {
      for (const b of backends) b.onRequest = undefined;
      const off = publish(input(apps()));
      assert.equal(off.status, 0, off.stderr);
    }
    assert.equal((await get(listenPort, "blog.example.edu", "/articles/1")).status, 200);
  });

  it("grants the publish access: an unprivileged publish user whose root-owned keys may each only rrsync into one app's static directory", () => {
    const run = access(["blog", "wiki"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /publish access for 2 app\(s\)/);
    const user = site.inEtc(`id -u ${PUBLISH_USER} && getent passwd ${PUBLISH_USER} | cut -d: -f6,7 && id -Gn ${PUBLISH_USER}`);
    assert.equal(user.status, 0, user.stderr);
    const [uid, homeShell, groups] = user.stdout.trim().split("\n");
    assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system user, got uid ${uid}`);
    assert.equal(homeShell, `/home/${PUBLISH_USER}:/bin/sh`);
    assert.equal(groups, PUBLISH_USER, "no group but its own (no sudo)");
    const keys = site.inEtc(`stat -c '%U %a' /home/${PUBLISH_USER}/.ssh/authorized_keys && cat /home/${PUBLISH_USER}/.ssh/authorized_keys`);
    const [owner, ...lines] = keys.stdout.trim().split("\n");
    assert.equal(owner, "root 644", "the publish user cannot widen its own keys");
    assert.equal(lines.length, 2);
    for (const app of ["blog", "wiki"]) {
      const line = lines.find((l) => l.endsWith(` fleet-publish ${app}`));
      const dir = path.join(site.webRoot, appIdentity(app).osUser, "static");
      assert.ok(
        line?.startsWith(`restrict,from="127.0.0.2,127.0.0.3",command="/usr/bin/rrsync -wo -munge ${dir}" ${publicKey(app).trim()}`),
        line,
      );
      const owned = site.inEtc(`stat -c '%U %a' ${dir} && find ${dir} ! -user ${PUBLISH_USER} | wc -l`);
      assert.deepEqual(
        owned.stdout.trim().split("\n"),
        [`${PUBLISH_USER} 755`, "0"],
        `${dir}: the publish user's, files published before too`,
      );
    }
  });

  it("serves static files itself, a release's own files and hashed names cached for a year, others for an hour", async () => {
    const hashed = await get(listenPort, "blog.example.edu", "/static/css/site.0123456789ab.css");
    assert.equal(hashed.status, 200);
    assert.equal(hashed.body, "body{}\n");
    assert.equal(hashed.headers["cache-control"], "public, max-age=31536000, immutable");
    const plain = await get(listenPort, "blog.example.edu", "/static/css/site.css");
    assert.equal(plain.headers["cache-control"], "public, max-age=3600");
    const own = await get(listenPort, "blog.example.edu", `/static/${RELEASE_COMMIT}/css/site.css`);
    assert.deepEqual(
      [own.status, own.body, own.headers["cache-control"]],
      [200, "body{color:red}\n", "public, max-age=31536000, immutable"],
    );
  });

  it("spreads requests over the nodes and skips a node that answers 503 or is down", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(JSON.parse((await get(listenPort, "wiki.example.edu", "/")).body).node);
    assert.deepEqual([...seen].sort(), nodes);

    backends[0].status = 503; // being reloaded
    for (let i = 0; i < 6; i++) {
      const res = await get(listenPort, "wiki.example.edu", "/");
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).node, nodes[1]);
    }
    backends[0].status = 200;

    await new Promise<void>((r) => backends[0].server.close(() => r())); // node down: connection refused
    backends[0].server.closeAllConnections();
    for (let i = 0; i < 6; i++) {
      const res = await get(listenPort, "blog.example.edu", "/");
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).node, nodes[1]);
    }
    backends[0] = await startBackend(nodes[0], site.appPort);
  });

  it("does nothing for an unchanged catalog: no rewrite, no reload", () => {
    const before = fs.statSync(path.join(confDir, "fleet-blog.conf")).mtimeMs;
    const run = publish(input(apps()));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /unchanged, nginx not reloaded/);
    assert.equal(fs.statSync(path.join(confDir, "fleet-blog.conf")).mtimeMs, before);
  });

  it("rejects a config nginx -t refuses, restores the previous files and keeps serving", async () => {
    const previous = fs.readFileSync(path.join(confDir, "fleet-blog.conf"), "utf8");
    const broken = input(apps()).replace("proxy_connect_timeout 2s;", "proxy_connect_timeout soon;");
    const run = publish(broken);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /nginx -t rejected the new config; previous files restored/);
    assert.equal(fs.readFileSync(path.join(confDir, "fleet-blog.conf"), "utf8"), previous);
    assert.equal((await get(listenPort, "blog.example.edu", "/")).status, 200);
  });

  it("refuses cut-short or malicious input without touching the files", () => {
    const previous = fs.readdirSync(confDir).sort();
    const full = input(apps());
    const truncated = publish(full.slice(0, full.indexOf(END_MARKER)));
    assert.notEqual(truncated.status, 0);
    assert.match(truncated.stderr, /without @@fleet-end/);
    const escape = publish(`${FILE_MARKER}../nginx.conf\nevents {}\n${END_MARKER}\n`);
    assert.notEqual(escape.status, 0);
    assert.match(escape.stderr, /bad file name/);
    // A key never goes through the readable sites step, nor a server block through the keys step.
    const keyAsSite = publish(`${FILE_MARKER}fleet-blog-0123456789ab.key\nkey\n${END_MARKER}\n`);
    assert.match(keyAsSite.stderr, /bad file name fleet-blog-0123456789ab\.key for sites/);
    const siteAsKey = site.publish(`${FILE_MARKER}fleet-blog.conf\nevents {}\n${END_MARKER}\n`, "keys");
    assert.match(siteAsKey.stderr, /bad file name fleet-blog\.conf for keys/);
    assert.deepEqual(fs.readdirSync(confDir).sort(), previous);
    assert.match(fs.readFileSync(site.nginxConf, "utf8"), /include/);
  });

  it("drains a node taken out of an upstream: its request in flight is answered, and the publish returns only after it", async () => {
    const [gone, stays] = nodes;
    const only = (node: string) => site.input(apps(), {}, { blog: [node], wiki: [node] });
    assert.equal(publish(only(gone)).status, 0);
    backends[0].slowMs = 1500;
    const arrived = new Promise<void>((resolve) => (backends[0].onRequest = (p) => p === "/slow" && resolve()));
    const slow = get(listenPort, "blog.example.edu", "/slow").then((r) => ({ ...r, at: Date.now() }));
    await arrived;
    const run = await site.publishAsync(only(stays));
    const publishedAt = Date.now();
    backends[0].onRequest = undefined;
    backends[0].slowMs = 0;
    assert.equal(run.status, 0, run.stderr);
    const answer = await slow;
    assert.equal(answer.status, 200);
    assert.equal(JSON.parse(answer.body).node, gone);
    assert.ok(publishedAt >= answer.at, `the publish returned ${answer.at - publishedAt} ms before the request it drains was answered`);
    assert.equal(JSON.parse((await get(listenPort, "blog.example.edu", "/")).body).node, stays);
    assert.equal(publish(input(apps())).status, 0);
  });

  it("the access of an app that left the catalog: its static files and its key go, the others stay", () => {
    const run = access(["blog"]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`removed ${site.webRoot}/${appIdentity("wiki").osUser} \\(its app left\\)`));
    assert.deepEqual(fs.readdirSync(site.webRoot), [appIdentity("blog").osUser]);
    assert.ok(fs.existsSync(path.join(site.webRoot, appIdentity("blog").osUser, "static", "css", "site.0123456789ab.css")));
    const keys = site.inEtc(`cat /home/${PUBLISH_USER}/.ssh/authorized_keys`).stdout;
    assert.doesNotMatch(keys, /fleet-publish wiki/, "the key of the app that left no longer opens anything");
    assert.match(keys, /fleet-publish blog/);
    const again = access(["blog"]);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /removed/);
  });

  it("refuses an access input with a path for a user name, changing nothing", () => {
    const run = site.publish(`${FILE_MARKER}fleet-publish-keys\n${FILE_MARKER}fleet-web-roots\n../../etc\n${END_MARKER}\n`, "access");
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /bad app user name in fleet-web-roots: \.\.\/\.\.\/etc/);
    assert.match(site.inEtc(`cat /home/${PUBLISH_USER}/.ssh/authorized_keys`).stdout, /fleet-publish blog/, "the keys stay as they were");
  });

  it("serves the longest legal names (253 characters, 63-character labels) beside short ones, and a 47-character one", async () => {
    const run = publish(input([...apps(), ...LONG_APPS.map((a) => ({ ...a, port: site.appPort }))]));
    assert.equal(run.status, 0, run.stderr);
    for (const a of [...LONG_APPS, APPS[1]]) {
      const res = await get(listenPort, a.domain, "/");
      assert.equal(res.status, 200, a.domain);
      assert.equal(JSON.parse(res.body).host, a.domain);
    }
    // Back to the short names: the bucket shrinks again and nginx takes it.
    assert.equal(publish(input(apps())).status, 0);
  });

  it("removes the file of an app that left the catalog and reloads gracefully (same master)", async () => {
    const pid = masterPid();
    const run = publish(input(apps().filter((a) => a.name === "blog")));
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(fs.readdirSync(confDir).sort(), [SERVER_NAMES_FILE, "fleet-blog.conf"]);
    assert.equal(masterPid(), pid, "reload, not restart");

    assert.equal((await get(listenPort, "blog.example.edu", "/")).status, 200);
  });
});

describe("publish-nginx-config.sh: HTTPS with the apps' certificates, against a real nginx", function () {
  this.timeout(30000);
  let site: TestNginx;
  let tlsDir: string;
  let listenPort: number;
  let tlsPort: number;
  let ca: TestCa;
  let blogCert: IssuedCertificate;
  const publish = (certificates: Record<string, TlsFiles>) => site.publishWithKeys(certificates);
  const blogOnly = (c: IssuedCertificate) => ({ blog: { certificate: c.certificate, privateKey: c.privateKey } });
  const mode = (f: string) => (fs.statSync(f).mode & 0o777).toString(8);
  const filesOf = (c: IssuedCertificate) => tlsFileNames("blog", c.certificate);

  before(async () => {
    site = await TestNginx.start(["127.0.0.4", "127.0.0.5"]);
    ({ tlsDir, listenPort, tlsPort } = site);
    ca = makeCa();
    blogCert = issue(ca, "blog.example.edu");
  });
  after(() => {
    site.stop();
    removeCa(ca);
  });

  it("serves an app with a certificate over HTTPS (HSTS), redirects its HTTP; the key is root-only", async () => {
    const run = publish(blogOnly(blogCert));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /published 2 file\(s\) and 1 certificate\(s\), nginx reloaded/);
    const files = filesOf(blogCert);
    assert.match(files.certificate, /^fleet-blog-[0-9a-f]{12}\.crt$/);
    assert.deepEqual(fs.readdirSync(tlsDir).sort(), [files.certificate, files.privateKey]);
    assert.equal(mode(tlsDir), "700");
    assert.equal(mode(path.join(tlsDir, files.privateKey)), "600");
    assert.equal(fs.statSync(path.join(tlsDir, files.privateKey)).uid, 0);

    const page = await getTls(tlsPort, "blog.example.edu", "/articles/1", ca.certificate);
    assert.equal(page.status, 200);
    assert.equal(JSON.parse(page.body).host, "blog.example.edu");
    assert.equal(page.serial, blogCert.serial.toUpperCase());
    assert.equal(page.headers["strict-transport-security"], "max-age=31536000");
    const asset = await getTls(tlsPort, "blog.example.edu", "/static/css/site.0123456789ab.css", ca.certificate);
    assert.equal(asset.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.equal(asset.headers["strict-transport-security"], "max-age=31536000", "a location's own add_header must not drop HSTS");

    const plain = await get(listenPort, "blog.example.edu", "/articles/1?page=2");
    assert.equal(plain.status, 301);
    assert.equal(plain.headers.location, "https://blog.example.edu/articles/1?page=2");
    // The app without a certificate stays on HTTP.
    assert.equal((await get(listenPort, "wiki.example.edu", "/")).status, 200);
  });

  it("same certificates again: nothing rewritten, no reload (the key compared as root)", () => {
    const keys = site.publish(renderKeys(blogOnly(blogCert)), "keys");
    assert.equal(keys.stdout.trim(), "publish-nginx-config: 0 key(s) written, 1 unchanged");
    const run = publish(blogOnly(blogCert));
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /unchanged, nginx not reloaded/);
  });

  it("a renewed certificate is served after a graceful reload; the old pair is removed only then", async () => {
    const renewed = issue(ca, "blog.example.edu", 90);
    const keys = site.publish(renderKeys(blogOnly(renewed)), "keys");
    assert.equal(keys.status, 0, keys.stderr);
    // Between the steps nginx still has the old pair on disk as in memory.
    assert.ok(fs.existsSync(path.join(tlsDir, filesOf(blogCert).privateKey)));
    const run = publish(blogOnly(renewed));
    assert.equal(run.status, 0, run.stderr);
    assert.equal((await getTls(tlsPort, "blog.example.edu", "/", ca.certificate)).serial, renewed.serial.toUpperCase());
    assert.deepEqual(fs.readdirSync(tlsDir).sort(), [filesOf(renewed).certificate, filesOf(renewed).privateKey]);
    blogCert = renewed;
  });

  it("a key of another certificate fails nginx -t: the previous configuration, certificate and key keep serving", async () => {
    const other = issue(ca, "blog.example.edu");
    const keys = site.publish(renderKeys({ blog: { certificate: other.certificate, privateKey: blogCert.privateKey } }), "keys");
    assert.equal(keys.status, 0, keys.stderr);
    const run = site.publish(site.input(site.apps(), { blog: { certificate: other.certificate, privateKey: "" } }));
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /nginx -t rejected the new config; previous files restored/);
    assert.equal(fs.readFileSync(path.join(tlsDir, filesOf(blogCert).certificate), "utf8"), blogCert.certificate);
    assert.equal(mode(path.join(tlsDir, filesOf(blogCert).privateKey)), "600");
    assert.equal((await getTls(tlsPort, "blog.example.edu", "/", ca.certificate)).serial, blogCert.serial.toUpperCase());
    // The running nginx reloads fine from what is on disk: nothing half-applied.
    assert.equal(spawnSync("nginx", ["-c", site.nginxConf, "-t", "-q"]).status, 0);
  });

  it("a certificate whose key was never written is refused before anything changes, naming the key", () => {
    const lone = issue(ca, "blog.example.edu");
    const run = site.publish(site.input(site.apps(), { blog: { certificate: lone.certificate, privateKey: "" } }));
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, new RegExp(`no key ${filesOf(lone).privateKey} in .* \\(the keys step writes it first\\)`));
    assert.ok(fs.existsSync(path.join(tlsDir, filesOf(blogCert).certificate)));
  });

  it("a certificate taken out of the config: its files are removed and the app is back on HTTP", async () => {
    const run = publish({});
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(fs.readdirSync(tlsDir), []);
    assert.equal((await get(listenPort, "blog.example.edu", "/")).status, 200);
  });
});
