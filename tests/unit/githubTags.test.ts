// Tag editing in apps.yaml (byte-exact), newest-version choice, and `npm run tags` end to end
// against the local GitHub stand-in.
import { strict as assert } from "assert";
import * as fs from "fs";
import { CatalogEditError, changedLines, renderDiff, setTags } from "../../github/catalogEdit";
import { compareTags, newestVersion } from "../../github/versions";
import { runTool, useTestBed } from "../helpers/githubTools";

const TOKEN = "ghp_tagstoken";

const CATALOG = `# yaml-language-server: $schema=./apps.schema.json
defaults:
  healthCheck: /healthz
  keepReleases: 5
apps:
  - name: polls
    repo: uni-it/polls
    domain: polls.example.edu
    settings: pollsite.settings
    wsgi: pollsite.wsgi:application
    migrations: true
    tags:
      alpha: v1.4.0      # a stack with no tag does not run the app
      production: "v1.3.2"   # quoted on purpose

  - name: room-booking   # estates
    repo: uni-estates/room-booking
    domain: rooms.example.edu
    settings: rooms.settings
    wsgi: rooms.wsgi:application
    tags: {alpha: 'v2.0.0-rc.2', production: v1.9.7}
`;

describe("apps.yaml tag edits", () => {
  it("changes one value and not one other byte: spacing before comments, quotes, flow maps", () => {
    const out = setTags(CATALOG, "apps.yaml", [{ app: "polls", stack: "alpha", tag: "v1.5.0" }]);
    assert.deepEqual(changedLines(CATALOG, out), [
      {
        line: 13,
        before: "      alpha: v1.4.0      # a stack with no tag does not run the app",
        after: "      alpha: v1.5.0      # a stack with no tag does not run the app",
      },
    ]);
  });

  it("keeps each value's quoting style", () => {
    const out = setTags(CATALOG, "apps.yaml", [
      { app: "polls", stack: "production", tag: "v1.4.0" },
      { app: "room-booking", stack: "alpha", tag: "v2.0.0" },
      { app: "room-booking", stack: "production", tag: "v2.0.0" },
    ]);
    assert.deepEqual(
      changedLines(CATALOG, out).map((c) => c.after),
      ['      production: "v1.4.0"   # quoted on purpose', "    tags: {alpha: 'v2.0.0', production: v2.0.0}"],
    );
  });

  it("quotes a plain value that YAML would read as something else", () => {
    const out = setTags(CATALOG, "apps.yaml", [{ app: "room-booking", stack: "production", tag: "1.10" }]);
    assert.equal(changedLines(CATALOG, out)[0].after, "    tags: {alpha: 'v2.0.0-rc.2', production: \"1.10\"}");
  });

  it("refuses an unknown app or a stack the app has no tag for, naming the file", () => {
    assert.throws(
      () => setTags(CATALOG, "apps.yaml", [{ app: "nope", stack: "alpha", tag: "v1" }]),
      (e: Error) => e instanceof CatalogEditError && e.message === 'apps.yaml: unknown app "nope"; apps: polls, room-booking',
    );
    assert.throws(
      () => setTags(CATALOG, "apps.yaml", [{ app: "polls", stack: "staging", tag: "v1" }]),
      /^CatalogEditError: apps\.yaml: polls has no tag for stack "staging" \(it does not run there\)$/,
    );
  });

  it("renders a unified diff with one hunk per changed line", () => {
    assert.equal(
      renderDiff("apps.yaml", [{ line: 3, before: "a: 1", after: "a: 2" }]),
      "--- a/apps.yaml\n+++ b/apps.yaml\n@@ -3 +3 @@\n-a: 1\n+a: 2",
    );
  });
});

describe("newest release version", () => {
  it("orders by semver, not by text", () => {
    assert.equal(newestVersion(["v1.9.0", "v1.10.0", "v1.2.0"], { prerelease: false }), "v1.10.0");
    assert.equal(newestVersion(["v2.0.0-rc.2", "v2.0.0-rc.10", "v1.0.0"], { prerelease: true }), "v2.0.0-rc.10");
    assert.equal(newestVersion(["v2.0.0-rc.2", "v2.0.0", "v1.0.0"], { prerelease: true }), "v2.0.0");
    assert.equal(newestVersion(["nightly", "v1", "release-2"], { prerelease: true }), undefined);
  });

  it("compares a pinned tag with the newest", () => {
    assert.equal(compareTags("v1.3.2", "v1.4.1"), "behind");
    assert.equal(compareTags("1.4.1", "v1.4.1"), "current");
    assert.equal(compareTags("v2.0.0-rc.2", "v1.9.7"), "ahead");
    assert.equal(compareTags("hotfix-7", "v1.9.7"), "unknown");
  });
});

const runTags = (args: string[], env: Record<string, string>) => runTool("tags", args, env);

describe("npm run tags (end to end against a local GitHub)", function () {
  this.timeout(60000);
  const bed = useTestBed(TOKEN, () => ({
    "uni-it/polls": { tags: ["v1.3.2", "v1.4.0", "v1.4.1", "v1.5.0-rc.1", "nightly"] },
    "uni-it/library-catalogue": { tags: ["v3.12.1", "v3.13.0"] },
    "uni-estates/room-booking": { tags: ["v1.9.7", "v2.0.0-rc.2"] },
    "uni-comms/alumni-news": { tags: Array.from({ length: 130 }, (_, i) => `v0.${i}.0`) },
  }));

  it("lists every app's pinned tag beside the newest release, asking GitHub once per app", async () => {
    const run = await runTags(["--apps", bed.catalog.file], bed.env);
    assert.equal(run.stderr, "");
    assert.equal(run.code, 0);
    const rows = run.stdout
      .trimEnd()
      .split("\n")
      .map((l) => l.split(/\s+/));
    assert.deepEqual(rows, [
      ["APP", "STACK", "PINNED", "NEWEST", "STATUS"],
      // Pulumi.alpha.yaml takes pre-releases (fleet:github.prereleases), production does not.
      ["polls", "alpha", "v1.4.0", "v1.5.0-rc.1", "behind"],
      ["polls", "production", "v1.3.2", "v1.4.1", "behind"],
      ["library-catalogue", "alpha", "latest", "v3.13.0", "latest"],
      ["library-catalogue", "production", "v3.12.1", "v3.13.0", "behind"],
      ["room-booking", "alpha", "v2.0.0-rc.2", "v2.0.0-rc.2", "current"],
      ["room-booking", "production", "v1.9.7", "v1.9.7", "current"],
      ["alumni-news", "alpha", "v0.8.1", "v0.129.0", "behind"],
    ]);
    for (const repo of ["uni-it/polls", "uni-it/library-catalogue", "uni-estates/room-booking"])
      assert.equal(bed.gh.countOf("GET", `/repos/${repo}/tags`), 1, repo);
    assert.equal(bed.gh.countOf("GET", "/repos/uni-comms/alumni-news/tags"), 2);
  });

  it("--stack S --pin writes the newest tags of that stack into apps.yaml and nothing else", async () => {
    const before = fs.readFileSync(bed.catalog.file, "utf8");
    const run = await runTags(["--apps", bed.catalog.file, "--stack", "production", "--pin"], bed.env);
    assert.equal(run.code, 0, run.stderr);
    const after = fs.readFileSync(bed.catalog.file, "utf8");
    assert.deepEqual(
      changedLines(before, after).map((c) => [c.before.trim(), c.after.trim()]),
      [
        ["production: v1.3.2", "production: v1.4.1"],
        ["production: v3.12.1", "production: v3.13.0"],
      ],
    );
    assert.match(run.stdout, /pinned 2 tag\(s\) in /);
  });

  it("still answers for the other apps when one repository is missing, and exits 1", async () => {
    bed.gh.repos.delete("uni-it/library-catalogue");
    const run = await runTags(["--apps", bed.catalog.file, "--stack", "alpha"], bed.env);
    assert.equal(run.code, 1);
    const lines = run.stdout.trimEnd().split("\n");
    assert.ok(lines.some((l) => /^polls\s+alpha\s+v1\.4\.0\s+v1\.5\.0-rc\.1\s+behind$/.test(l)));
    assert.ok(lines.some((l) => /^library-catalogue\s+alpha\s+latest\s+-\s+error$/.test(l)));
    assert.ok(
      lines.includes(`library-catalogue: repository uni-it/library-catalogue not found at ${bed.gh.baseUrl} (or the token cannot see it)`),
    );
  });

  it("refuses an unknown stack in one line", async () => {
    const run = await runTags(["--apps", bed.catalog.file, "--stack", "staging"], bed.env);
    assert.equal(run.code, 1);
    assert.equal(run.stderr, 'tags: unknown stack "staging"; stacks: alpha, production\n');
    assert.equal(bed.gh.requests.length, 0);
  });
});
