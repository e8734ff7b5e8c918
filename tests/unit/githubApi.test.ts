// The GitHub API library over real HTTP against a local server speaking GitHub's documented
// payloads: pagination, rate limits, 5xx retries, 404 and a bad token.
import { strict as assert } from "assert";
import { GithubClient, GithubError, newestReleaseTag } from "../../github/api";
import { resolveTags } from "../../github/resolveTags";
import { FakeGithub, rateLimitFault } from "../helpers/githubFake";

const TOKEN = "ghp_testtoken000000000000000000000000";
const TAGS_PATH = "/repos/uni-it/polls/tags";

/** 250 tags: the highest release sits on the third page, pre-releases and junk among them. */
function manyTags(): string[] {
  const tags: string[] = [];
  for (let minor = 0; minor < 120; minor++) tags.push(`v1.${minor}.0`);
  for (let patch = 0; patch < 120; patch++) tags.push(`0.9.${patch}`);
  tags.push("nightly", "v1.2", "release-7", "latest", "V9.9.9");
  tags.push("v2.0.0-rc.1", "v2.0.0-rc.10", "v2.0.0-rc.2");
  tags.push("v1.120.1", "1.120.1");
  return tags;
}

describe("github API client (real HTTP, local GitHub stand-in)", function () {
  this.timeout(20000);
  let gh: FakeGithub;
  const warnings: string[] = [];
  const client = (over: Partial<ConstructorParameters<typeof GithubClient>[0]> = {}) =>
    new GithubClient({ token: TOKEN, baseUrl: gh.baseUrl, retryBaseMs: 1, warn: (l) => warnings.push(l), ...over });

  beforeEach(async () => {
    warnings.length = 0;
    gh = new FakeGithub(TOKEN, "/api/v3");
    gh.addRepo("uni-it/polls", { tags: manyTags() });
    gh.addRepo("uni-it/empty", { tags: ["nightly", "build-42"] });
    await gh.start();
  });
  afterEach(() => gh.stop());

  it("reads every page of tags, following the Link header, under a GitHub Enterprise path", async () => {
    const tags = await client().listTags({ owner: "uni-it", name: "polls" }, "polls");
    assert.equal(tags.length, manyTags().length);
    const pages = gh.requests.filter((r) => r.path === TAGS_PATH).map((r) => r.query.get("page") ?? "1");
    assert.deepEqual(pages, ["1", "2", "3"]);
    assert.ok(gh.requests.every((r) => r.authorization === `token ${TOKEN}`));
  });

  it("picks the newest release by semver, ignoring non-versions, pre-releases only when asked", async () => {
    const c = client();
    const newest = await c.newestReleaseTag({ owner: "uni-it", name: "polls" }, { prerelease: false });
    // v1.120.1 and 1.120.1 are the same version: the tie is broken by the text, never by page order.
    assert.equal(newest, "v1.120.1");
    assert.equal(await c.newestReleaseTag({ owner: "uni-it", name: "polls" }, { prerelease: true }), "v2.0.0-rc.10");
    assert.equal(await c.newestReleaseTag({ owner: "uni-it", name: "empty" }, { prerelease: true }), undefined);
  });

  it("newestReleaseTag(repo) takes GITHUB_API_URL and GITHUB_TOKEN from the environment", async () => {
    const saved = { url: process.env.GITHUB_API_URL, token: process.env.GITHUB_TOKEN };
    process.env.GITHUB_API_URL = gh.baseUrl;
    process.env.GITHUB_TOKEN = TOKEN;
    try {
      assert.equal(await newestReleaseTag("uni-it/polls", { prerelease: false }), "v1.120.1");
    } finally {
      for (const [k, v] of [
        ["GITHUB_API_URL", saved.url],
        ["GITHUB_TOKEN", saved.token],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    assert.equal(gh.countOf("GET", TAGS_PATH), 3);
  });

  it("retries 5xx answers with back-off and then succeeds", async () => {
    gh.failNext(`GET ${TAGS_PATH}`, { status: 502 }, { status: 503 });
    const tags = await client().listTags({ owner: "uni-it", name: "polls" }, "polls");
    assert.equal(tags.length, manyTags().length);
    // two failures + three pages
    assert.equal(gh.countOf("GET", TAGS_PATH), 5);
  });

  it("gives up on a server that keeps failing, in one line naming the app", async () => {
    gh.failNext(`GET ${TAGS_PATH}`, ...Array.from({ length: 10 }, () => ({ status: 500 })));
    await assert.rejects(client({ retries: 2 }).listTags({ owner: "uni-it", name: "polls" }, "polls"), (err: Error) => {
      assert.ok(err instanceof GithubError);
      assert.match(err.message, /^polls: GitHub at http:\/\/127\.0\.0\.1:\d+\/api\/v3 kept failing for uni-it\/polls \(500 /);
      assert.ok(!err.message.includes("\n"));
      return true;
    });
    assert.equal(gh.countOf("GET", TAGS_PATH), 3);
  });

  it("retries a connection that fails before any answer, then says GitHub cannot be reached", async () => {
    await gh.stop();
    await assert.rejects(client({ retries: 1 }).listTags({ owner: "uni-it", name: "polls" }, "polls"), (err: Error) => {
      assert.match(err.message, /^polls: cannot reach GitHub at http:\/\/127\.0\.0\.1:\d+\/api\/v3 for uni-it\/polls \(.+\); retried$/);
      return true;
    });
  });

  it("waits for the rate limit reset (x-ratelimit-remaining: 0) and retries", async () => {
    gh.failNext(`GET ${TAGS_PATH}`, rateLimitFault(1));
    const newest = await client().newestReleaseTag({ owner: "uni-it", name: "polls" }, { prerelease: false, label: "polls" });
    assert.equal(newest, "v1.120.1");
    assert.equal(gh.countOf("GET", TAGS_PATH), 4);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^github: rate limit on GET .*\/repos\/uni-it\/polls\/tags.*; retrying in \d+s \(1\/2\)$/);
  });

  it("waits out a secondary rate limit (403 with retry-after) and retries", async () => {
    gh.failNext(`GET ${TAGS_PATH}`, {
      status: 403,
      headers: { "retry-after": "1" },
      body: {
        message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
      },
    });
    assert.equal((await client().listTags({ owner: "uni-it", name: "polls" }, "polls")).length, manyTags().length);
    assert.match(warnings[0], /^github: secondary rate limit on GET .*; retrying in 1s \(1\/2\)$/);
  });

  it("reports an exhausted rate limit with its reset time once the retries are used up", async () => {
    gh.failNext(`GET ${TAGS_PATH}`, rateLimitFault(1), rateLimitFault(1), rateLimitFault(1), rateLimitFault(1));
    await assert.rejects(
      client({ rateLimitRetries: 2 }).listTags({ owner: "uni-it", name: "polls" }, "polls"),
      /^GithubError: polls: GitHub API rate limit exhausted until \d{4}-\d\d-\d\dT[\d:.]+Z \(uni-it\/polls\)/,
    );
    assert.equal(gh.countOf("GET", TAGS_PATH), 3);
  });

  it("does not hang on a rate limit that resets far in the future", async () => {
    gh.failNext(`GET ${TAGS_PATH}`, rateLimitFault(3600));
    await assert.rejects(
      client({ maxRateLimitWaitSeconds: 60 }).listTags({ owner: "uni-it", name: "polls" }, "polls"),
      /rate limit exhausted/,
    );
    assert.equal(gh.countOf("GET", TAGS_PATH), 1);
    assert.deepEqual(warnings, []);
  });

  it("names the app when the repository does not exist", async () => {
    await assert.rejects(
      client().newestReleaseTag({ owner: "uni-it", name: "nope" }, { prerelease: false, label: "library-catalogue" }),
      (err: Error) => {
        assert.match(
          err.message,
          /^library-catalogue: repository uni-it\/nope not found at http:\/\/127\.0\.0\.1:\d+\/api\/v3 \(or the token cannot see it\)$/,
        );
        return true;
      },
    );
    // 404 is final: no retry
    assert.equal(gh.countOf("GET", "/repos/uni-it/nope/tags"), 1);
  });

  it("names the app when the token is rejected", async () => {
    await assert.rejects(client({ token: "ghp_wrong" }).listTags({ owner: "uni-it", name: "polls" }, "polls"), (err: Error) => {
      assert.match(err.message, /^polls: GitHub at \S+ rejected the token \(401 Bad credentials/);
      assert.match(err.message, /set GITHUB_TOKEN/);
      return true;
    });
    assert.equal(gh.countOf("GET", TAGS_PATH), 1);
  });

  it("tells a missing tag from a present one by exact ref", async () => {
    const c = client();
    assert.equal(await c.tagExists({ owner: "uni-it", name: "polls" }, "v1.3.0", "polls"), true);
    assert.equal(await c.tagExists({ owner: "uni-it", name: "polls" }, "v1.3", "polls"), false);
  });

  it("known_hosts lines for the clone host from GitHub's published SSH keys", async () => {
    assert.deepEqual(await client().sshKnownHosts("github.example.edu"), [
      "github.example.edu ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEYONLY",
      "github.example.edu ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAITESTKEYONLY",
    ]);
    assert.equal(gh.countOf("GET", "/meta"), 1);
  });

  describe("resolveTags", () => {
    const apps = [
      { name: "polls", repo: "uni-it/polls", tag: "latest" },
      { name: "alumni-news", repo: "uni-it/polls", tag: "v1.0.0" },
    ];

    it("replaces `latest` by the newest release and reports what it meant", async () => {
      const out = await resolveTags(apps, "alpha", { client: client(), prerelease: false });
      assert.deepEqual(out.latest, { polls: "v1.120.1" });
      assert.deepEqual(
        out.apps.map((a) => a.tag),
        ["v1.120.1", "v1.0.0"],
      );
      const pre = await resolveTags(apps, "alpha", { client: client(), prerelease: true });
      assert.deepEqual(pre.latest, { polls: "v2.0.0-rc.10" });
    });

    it("resolves `latest` only among the tags the release tag rules protect (a 99.0.0 beside v1.4.0 is no release under v*)", async () => {
      gh.addRepo("uni-it/loose", { tags: ["v1.4.0", "99.0.0", "v1.3.0"] });
      const loose = [{ name: "polls", repo: "uni-it/loose", tag: "latest" }];
      assert.deepEqual((await resolveTags(loose, "alpha", { client: client(), releaseTagPattern: "v*" })).latest, { polls: "v1.4.0" });
      assert.deepEqual((await resolveTags(loose, "alpha", { client: client(), releaseTagPattern: "*" })).latest, { polls: "99.0.0" });
      await assert.rejects(resolveTags(loose, "alpha", { client: client(), releaseTagPattern: "release-*" }), {
        message:
          'polls: uni-it/loose has no release tags (like v1.2.3, matching the protected release-*) for "latest" on stack alpha; pin a tag in apps.yaml',
      });
    });

    it("asks GitHub nothing when offline or when no app says latest", async () => {
      const offline = await resolveTags(apps, "alpha", { client: client(), offline: true });
      assert.deepEqual(offline.apps, apps);
      const pinned = await resolveTags([apps[1]], "alpha", { client: client() });
      assert.deepEqual(pinned.latest, {});
      assert.equal(gh.requests.length, 0);
    });

    it("lists every app it could not resolve, one line each", async () => {
      const broken = [
        { name: "polls", repo: "uni-it/gone", tag: "latest" },
        { name: "room-booking", repo: "uni-it/empty", tag: "latest" },
      ];
      await assert.rejects(resolveTags(broken, "production", { client: client() }), (err: Error) => {
        const lines = err.message.split("\n");
        assert.equal(lines.length, 2);
        assert.match(lines[0], /^polls: repository uni-it\/gone not found/);
        assert.equal(
          lines[1],
          'room-booking: uni-it/empty has no release tags (like v1.2.3) for "latest" on stack production; pin a tag in apps.yaml',
        );
        return true;
      });
    });
  });
});
