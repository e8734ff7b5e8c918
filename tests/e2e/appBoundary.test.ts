/**
 * The boundary around an app (issue 17, items 4 and 5), on real local nodes: an app whose wsgi.py
 * forces its own settings module is refused by the preflight with the fix, and runs with
 * `wsgi: django`; each release's static files have a URL of their own, so a page always gets the
 * assets of the release that rendered it (a plain-named stylesheet whose content differs between
 * releases), during a rolling switch and after a rollback, and the nginx host drops the files of
 * releases no node keeps.
 */
import { strict as assert } from "assert";
import { execFileSync } from "node:child_process";
import { appIdentity } from "../../config/identity";
import { staticDir, WEB_ROOT } from "../../rollout/layout";
import { linkedAssets } from "../../testbed/rehearsal";
import { Cluster } from "../../testbed/cluster";
import { APP, catalogText, DOMAIN, get, LocalStack } from "../../testbed/localStack";
import { pushTag } from "../../testbed/fixtureTags";
import { assertOk, withLocalStack } from "./testBed";

const E2E_TIMEOUT = 15 * 60 * 1000;

/** The stage step's error summary, without the executor's "<step>: " prefix. */
function summary(error: string | undefined): string {
  return ((error ?? "").split("\n").pop() ?? "").replace(/^polls-install-node-\d: /, "");
}

describe("e2e: wsgi: django runs Django's own handler under the platform's settings", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack();

  it("a wsgi.py that assigns DJANGO_SETTINGS_MODULE is refused at stage with the fix; with wsgi: django the release serves", async () => {
    const { cluster, stack } = bed;
    pushTag(
      cluster,
      "v11",
      "v11-forced",
      `sed -i 's#^os.environ.setdefault(.*#os.environ["DJANGO_SETTINGS_MODULE"] = "settings.production"#' pollsite/wsgi.py && grep -q 'settings.production' pollsite/wsgi.py`,
    );
    const refused = await stack.up(catalogText("v11-forced"));
    assert.equal(refused.ok, false, "the release was not stopped");
    assert.ok(!refused.ran.some((x) => x.name.includes("-switch-")), "a node switched");
    assert.match(
      summary(refused.error),
      /^fleet: error: polls v11-forced: wsgi: pollsite\/wsgi\.py:\d+ sets DJANGO_SETTINGS_MODULE = "settings\.production" itself \(not os\.environ\.setdefault\): .*; set `wsgi: django` for polls in apps\.yaml \(Django's own WSGI handler under the platform's settings\)$/,
    );

    assertOk(await stack.up(catalogText("v11-forced").replace("wsgi: pollsite.wsgi:application", "wsgi: django")));
    const page = await get(`http://${cluster.staticHost.address}/`, DOMAIN);
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /release: v11-forced/);
  });
});

/** Pushes TAG: v11 with plain-named static files (no manifest) and a stylesheet of its own content. */
function pushPlainTag(cluster: Cluster, tag: string): void {
  pushTag(
    cluster,
    "v11",
    tag,
    [
      "sed -i 's#ManifestStaticFilesStorage#StaticFilesStorage#' pollsite/settings.py",
      `printf '/* ${tag} */ body { color: black; }\\n' > polls/static/polls/plain.css`,
      `sed -i 's#</head>#<link rel="stylesheet" href="{% static "polls/plain.css" %}"></head>#' polls/templates/polls/index.html`,
      "git add polls/static/polls/plain.css",
    ].join(" && "),
  );
}

/** A page through nginx, then its plain stylesheet: the release the page says and the one the stylesheet says. */
async function pageAndStylesheet(edge: string): Promise<{ page: string; stylesheet: string; url: string }> {
  const page = await get(`http://${edge}/`, DOMAIN);
  const release = /release: (\S+)</.exec(page.body)?.[1] ?? `HTTP ${page.status}`;
  const url = linkedAssets(page.body).find((a) => a.endsWith("/polls/plain.css")) ?? "";
  const css = url ? await get(`http://${edge}${url}`, DOMAIN) : { status: 0, body: "" };
  const stylesheet = css.status === 200 ? (/\/\* (\S+) \*\//.exec(css.body)?.[1] ?? css.body) : `HTTP ${css.status}`;
  return { page: release, stylesheet, url };
}

describe("e2e: each release's static files under a URL of their own (plain names, rolling switch, rollback)", function () {
  this.timeout(E2E_TIMEOUT);
  const bed = withLocalStack();
  let cluster: Cluster;
  let stack: LocalStack;
  const catalog = (tag: string) => catalogText(tag, { keepReleases: 1 });
  const commitOf = (tag: string) =>
    execFileSync("git", ["-C", cluster.fixtureRepoPath, "rev-parse", `${tag}^{commit}`], { encoding: "utf8" }).trim();
  const publishedReleases = async () =>
    (
      await cluster.exec(
        cluster.staticHost,
        `cd ${staticDir(WEB_ROOT, appIdentity(APP).osUser)} && ls -d * | grep -Ex '[0-9a-f]{40}' | sort`,
      )
    ).stdout
      .trim()
      .split("\n")
      .filter(Boolean);

  before(async () => {
    ({ cluster, stack } = bed);
    pushPlainTag(cluster, "v11-plain-a");
    pushPlainTag(cluster, "v11-plain-b");
    assertOk(await stack.up(catalog("v11")));
  });

  /** Rolls TAG out while pages and their stylesheets are fetched; every pair must name one release. */
  async function rollOutWatching(tag: string): Promise<{ checked: number; pages: Set<string> }> {
    let rolling = true;
    const mismatches: string[] = [];
    const pages = new Set<string>();
    let checked = 0;
    const watch = (async () => {
      while (rolling) {
        const seen = await pageAndStylesheet(cluster.staticHost.address);
        pages.add(seen.page);
        if (!seen.url) continue; // v11's page has no plain stylesheet
        checked += 1;
        if (seen.page !== seen.stylesheet) mismatches.push(`page of ${seen.page} got the stylesheet of ${seen.stylesheet} (${seen.url})`);
      }
    })();
    try {
      assertOk(await stack.up(catalog(tag)));
    } finally {
      rolling = false;
      await watch;
    }
    assert.deepEqual(mismatches, []);
    return { checked, pages };
  }

  it("v11 -> a -> b: during each rolling switch every page gets its own release's plain stylesheet", async () => {
    for (const tag of ["v11-plain-a", "v11-plain-b"]) {
      const { checked, pages } = await rollOutWatching(tag);
      assert.ok(checked > 0 && pages.has(tag), `${checked} pages checked, releases seen: ${[...pages].join(", ")}`);
    }
    const after = await pageAndStylesheet(cluster.staticHost.address);
    assert.deepEqual([after.page, after.stylesheet], ["v11-plain-b", "v11-plain-b"]);
    assert.equal(after.url, `/static/${commitOf("v11-plain-b")}/polls/plain.css`);
  });

  it("rollback to a: its pages link a's stylesheet, with a's content (not b's, which has the same name)", async () => {
    await rollOutWatching("v11-plain-a");
    const after = await pageAndStylesheet(cluster.staticHost.address);
    assert.deepEqual([after.page, after.stylesheet], ["v11-plain-a", "v11-plain-a"]);
    assert.equal(after.url, `/static/${commitOf("v11-plain-a")}/polls/plain.css`);
  });

  it("the nginx host keeps the files of the releases the nodes keep, and no others (keepReleases: 1)", async () => {
    // v11 left the nodes when b went out (keep 1 + current + previous); the rollback's publish removed it.
    assert.deepEqual(await publishedReleases(), [commitOf("v11-plain-a"), commitOf("v11-plain-b")].sort());
  });
});
