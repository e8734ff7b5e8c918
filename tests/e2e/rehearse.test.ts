/**
 * `npm run rehearse` (cli/rehearse.ts over testbed/rehearsal.ts): usage errors, then real runs over
 * the fixture repository on the test bed (root), their --json report parsed and checked.
 */
import { strict as assert } from "assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { RehearsalReport } from "../../testbed/rehearsal";

const ROOT = path.join(__dirname, "..", "..");
const STATE_ROOT = "/var/lib/fleet-e2e";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  pid: number;
}

function rehearse(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "cli", "rehearse.ts"), ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (process.env.FLEET_E2E_LOG) process.stderr.write(d);
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 128, stdout, stderr, pid: child.pid ?? 0 }));
  });
}

const ENTRY = [
  "  - name: polls",
  "    repo: uni-it/polls",
  "    domain: polls.example.edu",
  "    settings: pollsite.settings",
  "    wsgi: pollsite.wsgi:application",
  "    healthCheck: /healthz",
];

describe("rehearse", function () {
  this.timeout(20 * 60 * 1000);
  let work = "";
  let repo = "";
  let catalog = "";
  const file = (name: string, text: string) => {
    const f = path.join(work, name);
    fs.writeFileSync(f, text);
    return f;
  };

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-rehearse-test-"));
    repo = path.join(work, "polls.git");
    const built = spawn("sh", [path.join(ROOT, "testbed", "fixture", "build-fixture.sh"), repo], { stdio: "inherit" });
    // Its tags are ignored: rehearse deploys the tags it is given, on its own local stack.
    catalog = file("apps.yaml", ["apps:", ...ENTRY, "    tags: { production: v9.9.9 }", ""].join("\n"));
    return new Promise<void>((resolve, reject) =>
      built.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`build-fixture.sh exited ${code}`)))),
    );
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  describe("usage errors: exit 2, one line naming what to fix, nothing started", () => {
    const cases: [string, () => string[], RegExp][] = [
      ["no arguments", () => [], /^rehearse: --repo is required; usage: npm run rehearse -- --repo PATH --catalog FILE/],
      [
        "an unknown flag",
        () => ["--repo", repo, "--catalog", catalog, "--tags", "v1", "--stack", "alpha"],
        /^rehearse: Unknown option '--stack'; usage: npm run rehearse/,
      ],
      [
        "--nodes out of range",
        () => ["--repo", repo, "--catalog", catalog, "--tags", "v1", "--nodes", "0"],
        /^rehearse: --nodes: must be a whole number from 1 to 8 \(got "0"\)$/,
      ],
      [
        "--path not a path",
        () => ["--repo", repo, "--catalog", catalog, "--tags", "v1", "--path", "polls"],
        /^rehearse: --path: "polls" is not allowed: a URL path starting with '\/'/,
      ],
      [
        "a repository that does not exist",
        () => ["--repo", path.join(work, "nope.git"), "--catalog", catalog, "--tags", "v1"],
        /^rehearse: --repo: \S+nope\.git does not exist$/,
      ],
      [
        "a directory that is no git repository",
        () => ["--repo", work, "--catalog", catalog, "--tags", "v1"],
        /^rehearse: --repo: \S+ is not a git repository$/,
      ],
      [
        "a tag the repository lacks",
        () => ["--repo", repo, "--catalog", catalog, "--tags", "v1,v70"],
        /^rehearse: --tags: \S+polls\.git has no tag v70 \(git tag -l there lists 13 tag\(s\)\)$/,
      ],
      [
        "a catalog entry the catalog refuses",
        () => [
          "--repo",
          repo,
          "--catalog",
          file("bad.yaml", ["apps:", ...ENTRY, "    workers: 0", "    tags: {}", ""].join("\n")),
          "--tags",
          "v1",
        ],
        /^rehearse: \S+bad\.yaml:8:14: polls\.workers: must be from 1 to 32$/,
      ],
      [
        "several apps and no --app",
        () => [
          "--repo",
          repo,
          "--catalog",
          file(
            "two.yaml",
            ["apps:", ...ENTRY, "    tags: {}", ...ENTRY.map((l) => l.replace("polls", "votes")), "    tags: {}", ""].join("\n"),
          ),
          "--tags",
          "v1",
        ],
        /^rehearse: \S+two\.yaml: has 2 apps \(polls, votes\): pick one with --app$/,
      ],
      [
        "an --app the catalog lacks",
        () => ["--repo", repo, "--catalog", catalog, "--app", "wiki", "--tags", "v1"],
        /^rehearse: \S+apps\.yaml: no app named "wiki"; apps: polls$/,
      ],
    ];
    for (const [what, args, expected] of cases) {
      it(what, async () => {
        const r = await rehearse(args());
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stdout, "");
        const lines = r.stderr.split("\n").filter(Boolean);
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], expected);
      });
    }
  });

  /** Everything the run started is gone: no test bed slot is owned by its process. */
  function assertCleanedUp(r: Run): void {
    const slots = fs.existsSync(STATE_ROOT) ? fs.readdirSync(STATE_ROOT) : [];
    const owned = slots.filter((s) => {
      const owner = path.join(STATE_ROOT, s, "owner");
      return fs.existsSync(owner) && Number(fs.readFileSync(owner, "utf8")) === r.pid;
    });
    assert.deepEqual(owned, [], "the rehearsal left its test bed behind");
  }

  it("two releases under load: --json on stdout, every release ok, 0 failed requests, its assets served, exit 0", async () => {
    const r = await rehearse(["--repo", repo, "--catalog", catalog, "--tags", "v1,v2", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as RehearsalReport;
    assert.equal(report.app, "polls");
    assert.equal(report.nodes, 2);
    assert.deepEqual(
      report.results.map((x) => [x.tag, x.ok, x.error]),
      [
        ["v1", true, null],
        ["v2", true, null],
      ],
    );
    for (const x of report.results) {
      assert.equal(x.failedRequests, 0, `${x.tag}: ${r.stderr}`);
      assert.deepEqual(x.assets, { checked: 1, broken: 0 }, x.tag);
      assert.ok(x.seconds > 0);
      assert.deepEqual(Object.keys(x), ["tag", "ok", "seconds", "requests", "failedRequests", "assets", "error", "migrations", "serving"]);
      // What the nodes serve after the release, read on them as `npm run status` reads them.
      assert.deepEqual(Object.keys(x.serving), ["node-1", "node-2"]);
      for (const s of Object.values(x.serving)) {
        assert.equal(s.tag, x.tag);
        assert.match(s.commit ?? "", /^[0-9a-f]{40}$/);
      }
    }
    // What the expand step decided for each migration, as the release pull request should show it.
    assert.ok(
      report.results[0].migrations.some((m) => m.name === "polls.0001_initial" && m.class === "before-switch" && m.when === "expand"),
      JSON.stringify(report.results[0].migrations),
    );
    assert.deepEqual(
      report.results[1].migrations.map((m) => [m.name, m.class, m.when]),
      [["polls.0002_question_summary", "before-switch", "expand"]],
    );
    // The load runs from the first release's site on (published after its switches): the upgrade is under load all the way.
    assert.ok(report.results[1].requests > 50, `only ${report.results[1].requests} requests during v2's rollout`);
    assert.match(r.stderr, /^rehearse: the first release serves: continuous GET \/ through nginx as polls\.example\.edu$/m);
    assertCleanedUp(r);
  });

  it("a failing release: ok false with the step's one-line error, the next release rolls on from there, exit 1; a line per release without --json", async () => {
    const r = await rehearse(["--repo", repo, "--catalog", catalog, "--tags", "v1,v3,v2", "--nodes", "1"]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 3, r.stdout);
    assert.match(
      lines[0],
      /^v1: ok in [\d.]+ s; \d+ requests, 0 failed, assets 1 checked, 0 broken; migrations: .*\bpolls\.0001_initial before-switch \(expand\).*$/,
    );
    assert.match(
      lines[1],
      /^v3: FAILED in [\d.]+ s; \d+ requests, 0 failed, assets 1 checked, 0 broken; migrations: polls\.0002_question_summary before-switch \(expand\), polls\.0003_summary_index before-switch \(expand\): migrating polls to v3 failed: .*column "headline" does not exist; no node was switched$/,
    );
    assert.match(lines[2], /^v2: ok in [\d.]+ s; \d+ requests, 0 failed, assets 1 checked, 0 broken(; migrations: [^:]*)?$/);
    assertCleanedUp(r);
  });
});
