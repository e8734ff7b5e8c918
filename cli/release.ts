// npm run release -- <app> <tag> --stack <stack> [--dry-run]
//
// Opens the pull request that releases <tag> of <app> on <stack>: one changed line of apps.yaml
// on a new branch of the infrastructure repository. Merging it deploys; reverting it rolls back.
//
// Environment:
//   GITHUB_TOKEN       a token that can read the app's repository and open pull requests on
//                      the infrastructure repository (contents + pull requests: write)
//   GITHUB_API_URL     default https://api.github.com (GitHub Enterprise: https://HOST/api/v3)
//   FLEET_INFRA_REPO   owner/name of the infrastructure repository; default: the `origin` remote
//   FLEET_APPS_PATH    apps.yaml's path in that repository (default apps.yaml)
import { execFileSync } from "child_process";
import { parseArgs } from "util";
import { knownStacks, projectDir } from "../config/stackFiles";
import { GithubClient, GithubError, parseRepo, RepoRef, repoText } from "../github/api";
import { CatalogEditError } from "../github/catalogEdit";
import { release, ReleaseRefused, repoFromRemote } from "../github/release";

const USAGE = "usage: npm run release -- <app> <tag> --stack <stack> [--dry-run]";

class UsageError extends Error {}

function infraRepo(): RepoRef {
  const configured = process.env.FLEET_INFRA_REPO;
  if (configured) return parseRepo(configured);
  let url = "";
  try {
    url = execFileSync("git", ["remote", "get-url", "origin"], {
      cwd: projectDir(),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    // No git, or no origin: say what to set instead.
  }
  const repo = repoFromRemote(url);
  if (!repo)
    throw new ReleaseRefused(
      "release: cannot tell the infrastructure repository: set FLEET_INFRA_REPO=owner/name (no GitHub `origin` remote)",
    );
  return repo;
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        stack: { type: "string" },
        "dry-run": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    throw new UsageError(`release: ${(err as Error).message}`);
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const [app, tag, ...extra] = parsed.positionals;
  if (!app || !tag || extra.length > 0) throw new UsageError("release: expected exactly <app> and <tag>");
  if (!parsed.values.stack) throw new UsageError(`release: --stack is required (stacks: ${knownStacks().join(", ")})`);

  const request = {
    app,
    tag,
    stack: parsed.values.stack,
    dryRun: parsed.values["dry-run"],
    infraRepo: infraRepo(),
    appsPath: process.env.FLEET_APPS_PATH ?? "apps.yaml",
    knownStacks: knownStacks(),
  };
  const result = await release(request, new GithubClient());
  process.stdout.write(`${result.diff}\n`);
  if (result.compareUrl) process.stdout.write(`compare: ${result.compareUrl}\n`);
  if (result.pullRequest) {
    process.stdout.write(`opened ${result.pullRequest.url} (${result.branch} -> ${result.base.branch})\n`);
  } else {
    process.stdout.write(
      `dry run: would open "${result.title}" on ${repoText(request.infraRepo)} (${result.branch} -> ${result.base.branch}); opened nothing\n`,
    );
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const known = err instanceof ReleaseRefused || err instanceof GithubError || err instanceof CatalogEditError || err instanceof UsageError;
  const message = known ? (err as Error).message : `release: ${(err as Error)?.message ?? String(err)}`;
  process.stderr.write(`${message}${err instanceof UsageError ? `\n${USAGE}` : ""}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
