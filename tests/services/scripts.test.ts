// The node-side scripts as files: shellcheck-clean, `set -eu`, every script the plan runs exists.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { rolloutFiles } from "../../node/scripts";
import { DEFAULT_DEPLOY_SETTINGS } from "../../config/deployConfig";
import { rolloutPlan } from "../../rollout/plan";
import { ALL_OVERRIDES } from "../../config/catalog";

const NODE = path.join(__dirname, "..", "..", "node");
const DIR = path.join(NODE, "rollout");
const PROVISION = path.join(NODE, "provision");
const shellScripts = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".sh"))
    .sort();
const scripts = shellScripts(DIR);
const ROLLOUT_FILES = rolloutFiles();

// shellcheck comes from Debian through .ci/install-debian-packages.sh, like every tool a test uses.
describe("node scripts", () => {
  it("are shellcheck-clean (sourced libraries followed)", () => {
    assert.ok(scripts.length >= 8);
    for (const [dir, files] of [
      [DIR, scripts],
      [PROVISION, shellScripts(PROVISION)],
    ] as const) {
      const r = spawnSync("shellcheck", ["-x", "-S", "style", ...files], { cwd: dir, encoding: "utf8" });
      assert.equal(r.status, 0, `shellcheck in ${dir}: ${r.error?.message ?? ""}${r.stdout}${r.stderr}`);
    }
  });

  it("every runnable script says `set -eu` before doing anything; libraries are sourced, not run", () => {
    for (const f of [...scripts.map((s) => path.join(DIR, s)), ...shellScripts(PROVISION).map((s) => path.join(PROVISION, s))]) {
      const text = fs.readFileSync(f, "utf8");
      if (path.basename(f).startsWith("lib")) {
        assert.match(text, /^# shellcheck shell=sh/, `${f}: a library names its shell`);
        continue;
      }
      assert.match(text, /^#!\/bin\/sh\n/, `${f}: #!/bin/sh`);
      const firstCommand = text.split("\n").find((l) => l.trim() !== "" && !l.startsWith("#"));
      assert.equal(firstCommand, "set -eu", `${f}: the first command must be set -eu`);
    }
  });

  it("every script the rollout plan runs is there", () => {
    const plan = rolloutPlan(
      {
        name: "polls",
        repo: "o/polls",
        domain: "p.example.edu",
        settings: "s",
        wsgi: "w:a",
        migrations: true,
        tags: {},
        tag: "v1",
        env: {},
        secrets: [],
        healthCheck: "/",
        keepReleases: 2,
        port: 8100,
        acknowledgeMigrations: [],
        overrides: ALL_OVERRIDES,
        deployChecks: "warn",
      },
      ["node-1", "node-2"],
      "00000000",
      DEFAULT_DEPLOY_SETTINGS,
    );
    const used = new Set(
      plan.steps.flatMap((s) => [...(s.run ?? []).map((r) => r.script), s.remove?.script]).filter((s): s is string => !!s),
    );
    for (const s of used) assert.ok(ROLLOUT_FILES.includes(s), `${s} is not in node/rollout (its changes would not re-run the steps)`);
    for (const f of ROLLOUT_FILES) assert.ok(fs.existsSync(path.join(DIR, f)), `${f} is missing`);
    // What the scripts source or hand to Python is versioned with them.
    for (const f of scripts.filter((x) => ROLLOUT_FILES.includes(x))) {
      const text = fs.readFileSync(path.join(DIR, f), "utf8");
      for (const m of text.matchAll(/\$here\/([A-Za-z0-9_.-]+)/g))
        assert.ok(ROLLOUT_FILES.includes(m[1]), `${f} uses ${m[1]}, which is not in node/rollout`);
    }
  });

  it("stage's git access: the deploy key and GitHub's host keys split apart from one stdin", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-git-access-"));
    const split = (input: string) => {
      fs.writeFileSync(path.join(tmp, "in"), input);
      const r = spawnSync("sh", ["-eu", "-c", `here="${DIR}"; . "$here/lib.sh"; split_git_access in key hosts`], {
        cwd: tmp,
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      return [fs.readFileSync(path.join(tmp, "key"), "utf8"), fs.readFileSync(path.join(tmp, "hosts"), "utf8")];
    };
    try {
      const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----\n";
      const hosts =
        "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\ngithub.com ecdsa-sha2-nistp256 AAAAE2VjZHNh\n";
      assert.deepEqual(split(key + hosts), [key, hosts]);
      assert.deepEqual(split(key), [key, ""], "no host keys: trust on first use");
      assert.deepEqual(split(""), ["", ""], "no key at all (https, file://)");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
