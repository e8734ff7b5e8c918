/**
 * The Django fixture, verified for real on an e2e node, by hand (no deployment code):
 * each tag migrates (or fails to, for v3), passes `check --deploy` without a warning,
 * collects hashed static files, serves through gunicorn, and its health check answers
 * as the e2e scenarios expect. Needs root (run as `npx mocha --spec tests/e2e/fixture.test.ts`).
 */
import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Cluster, ExecResult, NodeHandle, startCluster } from "../../testbed/cluster";
import { sshRun } from "../../testbed/sshClient";

const SRV = "/srv/fixture-check";
const PORT = 8000;
const DOMAIN = "polls.example.test";

describe("e2e fixture: the polls Django app, tag by tag, on a node", function () {
  this.timeout(180_000);
  let cluster: Cluster;
  let node: NodeHandle;

  /** Runs a shell snippet on the node as the deploy user with the app's environment loaded. */
  const onNode = (command: string, input?: string): Promise<ExecResult> =>
    sshRun(cluster, node, `set -eu; cd ${SRV}; set -a; . ${SRV}/app.env; set +a; ${command}`, input);
  const ok = async (command: string, input?: string): Promise<string> => {
    const r = await onNode(command, input);
    assert.equal(r.code, 0, `${command}\n${r.stderr}`);
    return r.stdout;
  };
  const manage = (tag: string, args: string) =>
    onNode(`cd releases/${tag} && FLEET_RELEASE_TAG=${tag} ${SRV}/venv/bin/python manage.py ${args}`);

  /** Restarts gunicorn on the release (the deployment's job is a graceful reload; here a restart will do). */
  const serve = async (tag: string) => {
    await ok(`if [ -f gunicorn.pid ]; then kill "$(cat gunicorn.pid)"; while [ -f gunicorn.pid ]; do sleep 0.05; done; fi
      cd releases/${tag} && FLEET_RELEASE_TAG=${tag} ${SRV}/venv/bin/python -m gunicorn --daemon --pid ${SRV}/gunicorn.pid \
        --bind 0.0.0.0:${PORT} --workers 2 --error-logfile ${SRV}/gunicorn.log pollsite.wsgi:application
      for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:${PORT}/ && exit 0; sleep 0.05; done; exit 1`);
  };
  /** GET from the static host (the path nginx takes), with the app's domain as Host. */
  const get = async (urlPath: string): Promise<{ status: number; body: string }> => {
    const r = await cluster.exec(
      cluster.staticHost,
      `curl -sS -H 'Host: ${DOMAIN}' -w '\\n%{http_code}' http://${node.address}:${PORT}${urlPath}`,
    );
    assert.equal(r.code, 0, r.stderr);
    const cut = r.stdout.lastIndexOf("\n");
    return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
  };
  const columns = async () =>
    (
      await ok(`${SRV}/venv/bin/python -c "
import psycopg2, os
from urllib.parse import urlparse, unquote
u = urlparse(os.environ['DATABASE_URL'])
c = psycopg2.connect(host=u.hostname, port=u.port, user=unquote(u.username), password=unquote(u.password), dbname=u.path[1:])
cur = c.cursor()
cur.execute(\\"SELECT column_name FROM information_schema.columns WHERE table_name = 'polls_question' ORDER BY column_name\\")
print(' '.join(r[0] for r in cur.fetchall()))
"`)
    ).trim();

  before(async () => {
    cluster = await startCluster({ appNodeCount: 1 });
    node = cluster.appNodes[0];
    const superPw = randomBytes(16).toString("hex");
    const appPw = `${randomBytes(12).toString("hex")}@:/%`; // characters that must be URL-encoded
    await cluster.postgres.setSuperuserPassword(superPw);
    const { host, port } = cluster.postgres;
    const sql = `CREATE ROLE polls LOGIN PASSWORD '${appPw}'; CREATE DATABASE polls OWNER polls;\n`;
    const db = await sshRun(
      cluster,
      node,
      `read -r PGPASSWORD; export PGPASSWORD; psql -X -q -v ON_ERROR_STOP=1 -h ${host} -p ${port} -U postgres -d postgres`,
      `${superPw}\n${sql}`,
    );
    assert.equal(db.code, 0, db.stderr);
    const env = [
      `SECRET_KEY=${randomBytes(40).toString("base64url")}`,
      `DATABASE_URL=postgres://polls:${encodeURIComponent(appPw)}@${host}:${port}/polls`,
      `ALLOWED_HOSTS=${DOMAIN},127.0.0.1`,
      `STATIC_ROOT=${SRV}/static`,
      "",
    ].join("\n");
    const setup = await sshRun(
      cluster,
      node,
      `set -eu; sudo install -d -o ${cluster.sshUser} ${SRV} ${SRV}/releases
      umask 077; cat > ${SRV}/app.env
      for tag in v1 v2 v3 v4 v5; do
        git -c advice.detachedHead=false clone -q --branch "$tag" ${cluster.fixtureRepoPath} ${SRV}/releases/$tag
      done
      /usr/bin/python3 -m venv --system-site-packages ${SRV}/venv
      ${SRV}/venv/bin/pip install -q --no-index --disable-pip-version-check -r ${SRV}/releases/v1/requirements.txt`,
      env,
    );
    assert.equal(setup.code, 0, setup.stderr);
  });

  after(async () => {
    await cluster?.stop();
  });

  it("v1: migrates, passes check --deploy without a warning, collects hashed static, serves and is healthy", async () => {
    const migrate = await manage("v1", "migrate --no-input");
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /Applying polls\.0001_initial\.\.\. OK/);
    const check = await manage("v1", "check --deploy --fail-level WARNING");
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /no issues \(2 silenced\)/);
    const collect = await manage("v1", "collectstatic --no-input");
    assert.equal(collect.code, 0, collect.stderr);
    assert.match(await ok("ls static/polls"), /^app\.[0-9a-f]{12}\.css$/m);
    await serve("v1");
    const health = await get("/healthz");
    assert.deepEqual([health.status, JSON.parse(health.body)], [200, { status: "ok", release: "v1", code: "v1" }]);
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.body, /release: v1/);
    assert.match(page.body, /code: v1/);
    assert.match(page.body, /href="\/static\/polls\/app\.[0-9a-f]{12}\.css"/);
    assert.equal((await get("/healthz")).status, 200);
    const stranger = await cluster.exec(
      cluster.staticHost,
      `curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' http://${node.address}:${PORT}/`,
    );
    assert.equal(stranger.stdout, "400", "ALLOWED_HOSTS must be enforced");
  });

  it("v2: migration 0002 adds a column, the stylesheet gets a new hash, v1's hashed file stays", async () => {
    const v1Css = (await ok("ls static/polls")).match(/app\.[0-9a-f]{12}\.css/)?.[0];
    const migrate = await manage("v2", "migrate --no-input");
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /Applying polls\.0002_question_summary\.\.\. OK/);
    assert.equal(await columns(), "id published summary text");
    assert.equal((await manage("v2", "check --deploy --fail-level WARNING")).code, 0);
    assert.equal((await manage("v2", "collectstatic --no-input")).code, 0);
    const css = (await ok("ls static/polls")).match(/app\.[0-9a-f]{12}\.css/g) ?? [];
    assert.equal(css.length, 2, `two hashed stylesheets expected: ${css.join(" ")}`);
    assert.ok(v1Css && css.includes(v1Css));
    await serve("v2");
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.body, /release: v2/);
    assert.match(page.body, /code: v2/);
    const v2Css = css.find((c) => c !== v1Css);
    assert.ok(page.body.includes(`/static/polls/${v2Css}`), "v2 must reference its new stylesheet");
  });

  it("v1 code keeps working on v2's schema; v2 code needs it (rollback order: switch first, then unapply)", async () => {
    await serve("v1");
    assert.equal((await get("/")).status, 200);
    assert.equal((await get("/healthz")).status, 200);
    const back = await manage("v2", "migrate --no-input polls 0001");
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /Unapplying polls\.0002_question_summary\.\.\. OK/);
    assert.equal(await columns(), "id published text");
    assert.equal((await get("/healthz")).status, 200, "v1 serves on v1's schema");
    await serve("v2");
    assert.equal((await get("/")).status, 500, "v2 on v1's schema must fail: its page reads the new column");
    assert.equal((await get("/healthz")).status, 500, "v2's health check must notice the missing column");
    assert.equal((await manage("v2", "migrate --no-input")).code, 0);
    assert.equal((await get("/healthz")).status, 200);
  });

  it("v3: migration 0003 fails and leaves the schema as v2 left it", async () => {
    assert.equal((await manage("v3", "check --deploy --fail-level WARNING")).code, 0, "v3 stages fine");
    const plan = await manage("v3", "migrate --plan");
    assert.match(plan.stdout, /polls\.0003_summary_index/);
    const migrate = await manage("v3", "migrate --no-input");
    assert.notEqual(migrate.code, 0);
    assert.match(migrate.stderr, /column "headline" does not exist/);
    assert.equal(await columns(), "id published summary text");
    const shown = await manage("v3", "showmigrations polls");
    assert.match(shown.stdout, /\[X\] 0002_question_summary/);
    assert.match(shown.stdout, /\[ \] 0003_summary_index/);
  });

  it("v4: nothing to migrate, starts fine, but its health check answers 503", async () => {
    assert.equal((await manage("v4", "check --deploy --fail-level WARNING")).code, 0);
    assert.match((await manage("v4", "migrate --plan")).stdout, /No planned migration operations/);
    await serve("v4");
    assert.equal((await get("/")).status, 200);
    const health = await get("/healthz");
    assert.equal(health.status, 503);
    assert.deepEqual([JSON.parse(health.body).status, JSON.parse(health.body).code], ["unhealthy", "v4"]);
  });

  it("v5: its migration 0003 cannot be reversed, and Django says so before touching anything", async () => {
    const migrate = await manage("v5", "migrate --no-input");
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /Applying polls\.0003_fill_summaries\.\.\. OK/);
    const plan = await manage("v5", "migrate --plan polls 0002");
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /polls\.0003_fill_summaries\s+Raw Python operation -> IRREVERSIBLE/);
    const back = await manage("v5", "migrate --no-input polls 0002");
    assert.notEqual(back.code, 0);
    assert.match(back.stderr, /IrreversibleError: Operation <RunPython .*> in polls\.0003_fill_summaries is not reversible/);
    assert.match((await manage("v5", "showmigrations polls")).stdout, /\[X\] 0003_fill_summaries/);
  });
});
