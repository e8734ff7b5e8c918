/**
 * Migrations around the switch, on real local nodes (real PostgreSQL, gunicorn, nginx, Django):
 * fixture tags v6..v10 and v12 each carry one kind of migration (testbed/fixture/build-fixture.sh).
 * Before-switch migrations run in expand, after-switch ones in contract (after the last
 * switch); a field added with a constant default keeps it as its database default until
 * contract, so the old code's inserts go on; unsafe ones are refused before anything changes
 * unless apps.yaml acknowledges them; a rollback past a RemoveField is refused unless acknowledged; a migration that
 * cannot get its lock fails the release within its timeout while the site keeps serving.
 */
import { strict as assert } from "assert";
import { Cluster } from "../../testbed/cluster";
import { ApplyResult } from "../../testbed/executor";
import { APP, APP_IDENTITY, CatalogExtra, catalogText, DOMAIN, Load, LocalStack } from "../../testbed/localStack";
import { assertOk, withLocalStack } from "./testBed";

const E2E_TIMEOUT = 20 * 60 * 1000;

interface Listed {
  name: string;
  class: string;
  when: string;
}

/** The `fleet-migrations: {json}` line of the expand step. */
function listed(r: ApplyResult): Listed[] {
  const expand = r.ran.find((x) => x.name === `${APP}-expand`);
  const line = (expand?.stdout ?? "").split("\n").find((l) => l.startsWith("fleet-migrations: "));
  assert.ok(line, `the expand step printed no fleet-migrations line: ${expand?.stdout}`);
  const report = JSON.parse(line.slice("fleet-migrations: ".length)) as { app: string; tag: string; migrations: Listed[] };
  assert.equal(report.app, APP);
  return report.migrations.map(({ name, class: cls, when }) => ({ name, class: cls, when }));
}

describe("e2e: migrations around the switch", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack({ appNodeCount: 2 });
  let cluster: Cluster;
  let stack: LocalStack;
  before(() => ({ cluster, stack } = bed));

  const columns = async () =>
    (await stack.appQuery("SELECT column_name FROM information_schema.columns WHERE table_name = 'polls_question' ORDER BY column_name"))
      .split("\n")
      .filter(Boolean);
  const applied = async () =>
    (await stack.appQuery("SELECT name FROM django_migrations WHERE app = 'polls' ORDER BY name")).split("\n").filter(Boolean);
  const links = () =>
    Promise.all(cluster.appNodes.map(async (n) => (await cluster.exec(n, `readlink ${APP_IDENTITY.home}/current`)).stdout.trim()));
  const served = () => Promise.all(cluster.appNodes.map((n) => stack.nodeRelease(n)));
  const up = (tag: string, extra: CatalogExtra = {}) => stack.up(catalogText(tag, extra));
  async function underLoad(tag: string, extra: CatalogExtra = {}) {
    const load = new Load(`http://${cluster.staticHost.address}/`, DOMAIN);
    const started = Date.now();
    const result = await up(tag, extra);
    const seconds = (Date.now() - started) / 1000;
    return { result, seconds, ...(await load.stop()) };
  }
  /** What a refusal must leave alone: the schema, the applied migrations, the symlinks, what serves. */
  const snapshot = async () => ({
    columns: await columns(),
    applied: await applied(),
    links: await links(),
    served: await served(),
    nginx: await stack.nginxRelease(),
  });

  it("v2 deploys (its migrations are before-switch)", async () => {
    const r = await up("v2");
    assertOk(r);
    assert.deepEqual(listed(r), [
      { name: "polls.0001_initial", class: "before-switch", when: "expand" },
      { name: "polls.0002_question_summary", class: "before-switch", when: "expand" },
    ]);
    await stack.appQuery("INSERT INTO polls_question (text, published, summary) VALUES ('kept?', now(), 'a summary')");
  });

  it("a migration waiting on a lock held by another session fails the release within its timeout; the site keeps serving", async () => {
    const release = stack.appSession("BEGIN; LOCK TABLE polls_question IN ACCESS SHARE MODE;\n");
    try {
      for (let i = 0; i < 100; i++) {
        const held = await stack.appQuery(
          "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'polls_question' AND l.granted AND l.pid <> pg_backend_pid()",
        );
        if (held !== "0") break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const before = await snapshot();
      const { result, requests, failed, failures } = await underLoad("v6", { migrationLockTimeout: 1, migrationRetries: 2 });
      assert.equal(result.ok, false);
      const gaveUp =
        /migrating polls to v6 failed: could not get a database lock within 1 s in 3 attempts, ([0-9.]+) s in all \(.*lock timeout.*\): another session holds it.*; no node was switched/.exec(
          result.error ?? "",
        );
      assert.ok(gaveUp, result.error);
      const expand = result.ran.find((x) => x.name === `${APP}-expand`)!;
      // The lock is held until the test ends it: without the timeout the step would wait forever.
      // Three 1 s waits with 1 s and 2 s pauses between them.
      console.log(
        `      lock held: the migration gave up after ${gaveUp[1]} s (expand step ${(expand.ms / 1000).toFixed(1)} s); ${requests} requests, ${failed} failed`,
      );
      assert.ok(Number(gaveUp[1]) >= 6, `gave up after ${gaveUp[1]} s`);
      assert.ok(requests > 20, `only ${requests} requests`);
      assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
      assert.deepEqual(await snapshot(), before);
    } finally {
      await release();
    }
  });

  it("v2 -> v6 (nullable AddField) under load: before the switch, 0 failed requests", async () => {
    const { result, requests, failed, failures } = await underLoad("v6");
    assertOk(result);
    assert.deepEqual(listed(result), [{ name: "polls.0003_question_note", class: "before-switch", when: "expand" }]);
    assert.match(result.ran.find((x) => x.name === `${APP}-expand`)!.stdout, /applied=polls\.0003_question_note /);
    console.log(`      v2 -> v6: ${requests} requests, ${failed} failed`);
    assert.ok(requests > 50, `only ${requests} requests`);
    assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
    assert.ok((await columns()).includes("note"));
  });

  it("v6 -> v7 (RemoveField) under load: the column is dropped only after the last switch, 0 failed requests", async () => {
    const { result, requests, failed, failures } = await underLoad("v7");
    assertOk(result);
    assert.deepEqual(listed(result), [{ name: "polls.0004_remove_question_summary", class: "after-switch", when: "contract" }]);
    const names = result.ran.map((x) => x.name);
    const expand = result.ran.find((x) => x.name === `${APP}-expand`)!;
    const contract = result.ran.find((x) => x.name === `${APP}-contract`)!;
    assert.match(expand.stdout, /^v7 expand applied= unapplied=$/m, "expand dropped nothing");
    assert.match(contract.stdout, /^v7 contract applied=polls\.0004_remove_question_summary unapplied=$/m);
    assert.ok(names.indexOf(`${APP}-contract`) > names.indexOf(`${APP}-switch-node-2`), `order: ${names.join(" ")}`);
    console.log(`      v6 -> v7: ${requests} requests, ${failed} failed`);
    assert.ok(requests > 50, `only ${requests} requests`);
    assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
    assert.ok(!(await columns()).includes("summary"));
  });

  it("rolling back past the RemoveField is refused, naming it; acknowledged, the column comes back before the switch", async () => {
    const before = await snapshot();
    const refused = await up("v6");
    assert.equal(refused.ok, false);
    assert.match(
      refused.error ?? "",
      /refusing to roll polls back to v6: unapplying polls\.0004_remove_question_summary \(Remove field summary from question\) brings back empty what it removed: the data it held is gone; .*acknowledgeMigrations: \[polls\.0004_remove_question_summary\].*; nothing was changed/,
    );
    assert.ok(!refused.ran.some((x) => x.name.includes("-switch-")));
    assert.deepEqual(await snapshot(), before);

    const { result, requests, failed, failures } = await underLoad("v6", { acknowledgeMigrations: ["polls.0004_remove_question_summary"] });
    assertOk(result);
    const expand = result.ran.find((x) => x.name === `${APP}-expand`)!;
    assert.match(
      expand.stdout,
      /^v6 expand applied= unapplied=polls\.0004_remove_question_summary$/m,
      "the column came back before any switch",
    );
    console.log(`      v7 -> v6 acknowledged: ${requests} requests, ${failed} failed`);
    assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
    assert.ok((await columns()).includes("summary"));
    assert.equal(
      await stack.appQuery("SELECT count(*) FROM polls_question WHERE summary IS NOT NULL"),
      "0",
      "the data is gone, as the refusal said",
    );
    assertOk(await up("v7"));
  });

  it("v7 -> v8 (a NOT NULL field with a constant default) while the old code inserts rows: no acknowledgement, the default kept until contract, 0 failed requests", async () => {
    const inserts = new Load(`http://${cluster.staticHost.address}/ask`, DOMAIN, 2);
    const { result, requests, failed, failures } = await underLoad("v8");
    const written = await inserts.stop();
    assertOk(result);
    const entries = JSON.parse(
      result.ran
        .find((x) => x.name === `${APP}-expand`)!
        .stdout.split("\n")
        .find((l) => l.startsWith("fleet-migrations: "))!
        .slice("fleet-migrations: ".length),
    ) as { migrations: { name: string; class: string; when: string; rewrite?: string }[] };
    assert.deepEqual(
      entries.migrations.map(({ name, class: cls, when, rewrite }) => ({ name, class: cls, when, rewrite })),
      [{ name: "polls.0005_question_votes", class: "before-switch", when: "expand", rewrite: "keep-default" }],
    );
    const expand = result.ran.find((x) => x.name === `${APP}-expand`)!;
    assert.match(expand.stderr, /kept the database default of polls_question\.votes until contract/);
    assert.match(
      result.ran.find((x) => x.name === `${APP}-contract`)!.stderr,
      /dropped the database defaults kept since expand: polls_question\.votes/,
    );
    console.log(
      `      v7 -> v8: ${written.requests} inserts by the old and new code (${written.failed} failed), ${requests} page requests (${failed} failed)`,
    );
    assert.ok(written.requests > 20, `only ${written.requests} inserts`);
    assert.equal(written.failed, 0, `failed inserts: ${written.failures.join(" | ")}`);
    assert.equal(failed, 0, `failed requests: ${failures.join(" | ")}`);
    assert.equal(await stack.appQuery("SELECT count(*) FROM polls_question WHERE votes <> 0"), "0");
    assert.equal(
      await stack.appQuery(
        "SELECT coalesce(column_default, 'none') FROM information_schema.columns WHERE table_name = 'polls_question' AND column_name = 'votes'",
      ),
      "none",
      "the default is gone after contract",
    );
  });

  const unsafe: [string, string, RegExp][] = [
    [
      "v9",
      "polls.0006_rename_text_title",
      /refusing to deploy polls v9: polls\.0006_rename_text_title \(Rename field text on question to title\) renames column polls_question\.text to title, which the old code still uses \(polls_question: \d+ rows\); safe recipe: add the new one beside the old .*; nothing was changed/,
    ],
    [
      "v10",
      "polls.0007_alter_question_published",
      /refusing to deploy polls v10: polls\.0007_alter_question_published \(Alter field published on question\) changes the type of polls_question\.published from timestamp with time zone to date \(polls_question: \d+ rows\); safe recipe: add a column of the new type .*; nothing was changed/,
    ],
  ];
  for (const [tag, migration, message] of unsafe) {
    it(`${tag} (${migration}) is refused before any change with one line; acknowledged, it runs and says the old code was exposed`, async () => {
      const before = await snapshot();
      const refused = await up(tag);
      assert.equal(refused.ok, false);
      const line = refused.error!.split("\n").find((l) => l.includes("refusing to deploy"));
      assert.ok(line, refused.error);
      assert.match(line, message);
      assert.deepEqual(listed(refused), [{ name: migration, class: "unsafe", when: "refused" }]);
      assert.ok(!refused.ran.some((x) => x.name.includes("-switch-")));
      assert.deepEqual(await snapshot(), before);

      const acknowledged = await up(tag, { acknowledgeMigrations: [migration] });
      assertOk(acknowledged);
      assert.deepEqual(listed(acknowledged), [{ name: migration, class: "unsafe", when: "expand" }]);
      const expand = acknowledged.ran.find((x) => x.name === `${APP}-expand`)!;
      assert.match(
        expand.stderr,
        new RegExp(
          `${migration.replace(".", "\\.")} runs while the old code serves \\(acknowledged in apps\\.yaml\\): the old code is exposed to it`,
        ),
      );
      assert.ok((await applied()).includes(migration.split(".")[1]));
      assert.deepEqual(await links(), [`${APP_IDENTITY.home}/releases/${tag}`, `${APP_IDENTITY.home}/releases/${tag}`]);
    });
  }

  it("v12 (a NOT NULL column without a default on a populated table) is refused before any change, naming the migration, the table's size and the recipe", async () => {
    const before = await snapshot();
    const refused = await up("v12");
    assert.equal(refused.ok, false);
    assert.match(
      refused.error ?? "",
      /refusing to deploy polls v12: polls\.0008_question_rank \(Add field rank to question\) adds NOT NULL column polls_question\.rank without a database default, so the old code's inserts fail \(polls_question: \d+ rows\); safe recipe: add it with null=True .*; nothing was changed/,
    );
    assert.ok(!refused.ran.some((x) => x.name.includes("-switch-")));
    assert.deepEqual(await snapshot(), before);
  });
});
