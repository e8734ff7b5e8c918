// `npm run release` end to end: the real command in a child process, against the local GitHub
// stand-in over HTTP, with a temporary copy of the project's apps.yaml as the infrastructure
// repository's catalog.
import { strict as assert } from "assert";
import { parseCatalog } from "../../config/catalog";
import { changedLines } from "../../github/catalogEdit";
import { GithubClient } from "../../github/api";
import { planRelease, repoFromRemote } from "../../github/release";
import { knownStacks } from "../../config/stackFiles";
import { runTool, useTestBed } from "../helpers/githubTools";

const TOKEN = "ghp_releasetoken";
const INFRA = "uni-it/fleet";

const runRelease = (args: string[], env: Record<string, string>) => runTool("release", args, env);

describe("npm run release (end to end against a local GitHub)", function () {
  this.timeout(60000);
  const bed = useTestBed(
    TOKEN,
    (catalog) => ({
      [INFRA]: { files: { "apps.yaml": catalog } },
      "uni-it/polls": { tags: ["v1.3.2", "v1.4.0", "v1.4.1"] },
      "uni-it/library-catalogue": { tags: ["v3.12.1", "v3.13.0"] },
      "uni-comms/alumni-news": { tags: ["v0.8.1", "v0.9.0"] },
    }),
    { FLEET_INFRA_REPO: INFRA },
  );

  const writes = () => bed.gh.requests.filter((r) => r.method !== "GET");

  it("opens a pull request changing exactly one line of apps.yaml, comments kept", async () => {
    const run = await runRelease(["polls", "v1.4.1", "--stack", "production"], bed.env);
    assert.equal(run.stderr, "");
    assert.equal(run.code, 0);
    const branch = "release/polls/production/v1.4.1";
    const after = bed.gh.fileOn(INFRA, branch, "apps.yaml");
    assert.ok(after !== undefined);
    const changes = changedLines(bed.catalog.text, after);
    assert.equal(changes.length, 1);
    assert.equal(changes[0].before, "      production: v1.3.2");
    assert.equal(changes[0].after, "      production: v1.4.1");
    // every other byte (comments, blank lines, flow lists) is the same
    const commentLines = (t: string) => t.split("\n").filter((l) => l.trimStart().startsWith("#"));
    assert.deepEqual(commentLines(after), commentLines(bed.catalog.text));
    assert.equal(after.length, bed.catalog.text.length);
    // the base branch is untouched and the result is still a valid catalog
    assert.equal(bed.gh.fileOn(INFRA, "main", "apps.yaml"), bed.catalog.text);
    const reparsed = parseCatalog(after, "apps.yaml", { knownStacks: knownStacks() });
    assert.deepEqual(reparsed.errors, []);
    assert.equal(reparsed.catalog?.apps.find((a) => a.name === "polls")?.tags.production, "v1.4.1");

    const pulls = bed.gh.repos.get(INFRA)?.pulls ?? [];
    assert.equal(pulls.length, 1);
    const pr = pulls[0];
    assert.deepEqual(
      { head: pr.head, base: pr.base, title: pr.title },
      { head: branch, base: "main", title: "Release polls v1.4.1 to production" },
    );
    assert.match(pr.body, /\| app \| `polls` \(uni-it\/polls\) \|/);
    assert.match(pr.body, /\| stack \| `production` \|/);
    assert.match(pr.body, /\| old tag \| `v1\.3\.2` \|/);
    assert.match(pr.body, /\| new tag \| `v1\.4\.1` \|/);
    assert.match(pr.body, /\| compare \| https:\/\/github\.example\.test\/uni-it\/polls\/compare\/v1\.3\.2\.\.\.v1\.4\.1 \|/);
    assert.ok(pr.body.includes(`-      production: v1.3.2\n+      production: v1.4.1`));

    assert.deepEqual(
      writes().map((r) => `${r.method} ${r.path}`),
      [`POST /repos/${INFRA}/git/refs`, `PUT /repos/${INFRA}/contents/apps.yaml`, `POST /repos/${INFRA}/pulls`],
    );
    assert.match(
      run.stdout,
      /^--- a\/apps\.yaml\n\+\+\+ b\/apps\.yaml\n@@ -\d+ \+\d+ @@\n- {6}production: v1\.3\.2\n\+ {6}production: v1\.4\.1\n/,
    );
    assert.match(
      run.stdout,
      /opened https:\/\/github\.example\.test\/uni-it\/fleet\/pull\/1 \(release\/polls\/production\/v1\.4\.1 -> main\)/,
    );
  });

  it("--dry-run prints the one-line diff and opens nothing", async () => {
    const run = await runRelease(["polls", "v1.4.1", "--stack", "alpha", "--dry-run"], bed.env);
    assert.equal(run.code, 0, run.stderr);
    const line = bed.catalog.text.split("\n").findIndex((l) => l === "      alpha: v1.4.0") + 1;
    assert.ok(line > 0);
    assert.ok(
      run.stdout.startsWith(`--- a/apps.yaml\n+++ b/apps.yaml\n@@ -${line} +${line} @@\n-      alpha: v1.4.0\n+      alpha: v1.4.1\n`),
    );
    assert.match(run.stdout, /compare: https:\/\/github\.example\.test\/uni-it\/polls\/compare\/v1\.4\.0\.\.\.v1\.4\.1/);
    assert.match(run.stdout, /dry run: would open .* opened nothing/);
    assert.deepEqual(writes(), []);
  });

  const refusals: [string, string[], RegExp][] = [
    [
      "an unknown app",
      ["pols", "v1.4.1", "--stack", "production"],
      /^release: unknown app "pols" in apps\.yaml; apps: polls, library-catalogue, room-booking, alumni-news$/,
    ],
    [
      "a tag that does not exist",
      ["polls", "v9.9.9", "--stack", "production"],
      /^release: tag "v9\.9\.9" does not exist in uni-it\/polls; push the tag first$/,
    ],
    [
      "a stack the app does not run on",
      ["alumni-news", "v0.9.0", "--stack", "production"],
      /^release: alumni-news does not run on stack "production" \(no tags\.production in apps\.yaml\); it runs on: alpha$/,
    ],
    ["an unknown stack", ["polls", "v1.4.1", "--stack", "staging"], /^release: unknown stack "staging"; stacks: alpha, production$/],
    [
      "the tag already deployed",
      ["polls", "v1.3.2", "--stack", "production"],
      /^release: polls is already at v1\.3\.2 on production; nothing to release$/,
    ],
    ["`latest` as a release", ["polls", "latest", "--stack", "production"], /^release: a release pins a concrete tag/],
  ];
  for (const [what, args, message] of refusals) {
    it(`refuses ${what} in one line and changes nothing`, async () => {
      const run = await runRelease(args, bed.env);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, "");
      assert.match(run.stderr.trimEnd(), message);
      assert.equal(run.stderr.trimEnd().split("\n").length, 1);
      assert.deepEqual(writes(), []);
    });
  }

  it("refuses when the release branch already exists (one line), before committing anything", async () => {
    bed.gh.repos.get(INFRA)?.branches.set("release/polls/production/v1.4.1", "0".repeat(40));
    const run = await runRelease(["polls", "v1.4.1", "--stack", "production"], bed.env);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^uni-it\/fleet: branch release\/polls\/production\/v1\.4\.1 already exists in uni-it\/fleet \(an open release pull request\?\)/,
    );
    assert.deepEqual(
      writes().map((r) => r.method),
      ["POST"],
    );
  });

  it("names the app repository when it is missing, and the bad token when rejected", async () => {
    bed.gh.repos.delete("uni-it/polls");
    const missing = await runRelease(["polls", "v1.4.1", "--stack", "production"], bed.env);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^polls: repository uni-it\/polls not found at http:\/\/127\.0\.0\.1:\d+ \(or the token cannot see it\)\n$/,
    );
    const badToken = await runRelease(["polls", "v1.4.1", "--stack", "production"], { ...bed.env, GITHUB_TOKEN: "nope" });
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /^infrastructure repository uni-it\/fleet: GitHub at \S+ rejected the token \(401 Bad credentials/);
  });

  it("a release from `latest` has no compare link and says so", async () => {
    const plan = await planRelease(
      {
        app: "library-catalogue",
        tag: "v3.13.0",
        stack: "alpha",
        dryRun: true,
        infraRepo: { owner: "uni-it", name: "fleet" },
        appsPath: "apps.yaml",
        knownStacks: knownStacks(),
      },
      new GithubClient({ token: TOKEN, baseUrl: bed.gh.baseUrl, retryBaseMs: 1 }),
    );
    assert.equal(plan.oldTag, "latest");
    assert.equal(plan.compareUrl, undefined);
    assert.match(plan.body, /\| compare \| none \(the old tag was `latest`\) \|/);
    assert.equal(plan.change.after, "      alpha: v3.13.0");
  });

  it("finds the infrastructure repository from the git remote", () => {
    const expected = { owner: "uni-it", name: "fleet" };
    for (const url of [
      "git@github.com:uni-it/fleet.git",
      "https://github.com/uni-it/fleet.git",
      "https://x-access-token:abc@github.com/uni-it/fleet",
      "ssh://git@ghe.example.edu/uni-it/fleet.git\n",
    ]) {
      assert.deepEqual(repoFromRemote(url), expected, url);
    }
    assert.equal(repoFromRemote("/srv/git/fleet.git"), undefined);
    assert.equal(repoFromRemote(""), undefined);
  });
});
