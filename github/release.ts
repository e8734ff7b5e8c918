// The release pull request: one app, one stack, one new tag, one changed line of apps.yaml.
//
// The catalog edited is the one on the infrastructure repository's default branch (read through
// the API at a fixed commit), not the local checkout: a pull request built from a stale local
// file would quietly revert whatever merged since. Nothing is written on GitHub until every
// check has passed.
import { LATEST, parseCatalog, formatError, TAG_PATTERN } from "../config/catalog";
import { GithubClient, parseRepo, RepoRef, repoText } from "./api";
import { changedLines, LineChange, renderDiff, setTags } from "./catalogEdit";

export interface ReleaseRequest {
  app: string;
  tag: string;
  stack: string;
  /** Print the diff, open nothing. */
  dryRun: boolean;
  /** The infrastructure repository (this project's), where the pull request goes. */
  infraRepo: RepoRef;
  /** apps.yaml's path inside the infrastructure repository. */
  appsPath: string;
  /** The stacks that exist (Pulumi.<stack>.yaml files). */
  knownStacks: string[];
}

export interface ReleasePlan {
  app: string;
  repo: string;
  stack: string;
  oldTag: string;
  newTag: string;
  /** Where the app's code changes between the two tags can be read (none when the old tag was `latest`). */
  compareUrl?: string;
  base: { branch: string; commit: string };
  branch: string;
  change: LineChange;
  diff: string;
  title: string;
  body: string;
  /** The new apps.yaml and the blob it replaces (GitHub refuses the commit if that blob moved on). */
  content: { text: string; replacesSha: string };
}

export interface ReleaseResult extends ReleasePlan {
  pullRequest?: { number: number; url: string };
}

/** A refusal: one line, nothing changed anywhere. */
export class ReleaseRefused extends Error {
  override name = "ReleaseRefused";
}

function refuse(message: string): never {
  throw new ReleaseRefused(message);
}

/** The checks that need no network: the tag's shape and the stack's existence. */
function checkRequest(req: ReleaseRequest): void {
  if (req.tag === LATEST) refuse(`release: a release pins a concrete tag; "${LATEST}" is resolved at deploy time, not released`);
  if (!TAG_PATTERN.test(req.tag))
    refuse(`release: "${req.tag}" is not a valid git tag (letters, digits, '.', '_', '-', '/'; starting with a letter or digit)`);
  if (!req.knownStacks.includes(req.stack)) refuse(`release: unknown stack "${req.stack}"; stacks: ${req.knownStacks.join(", ")}`);
}

/** Works out the change and checks it against GitHub; writes nothing. */
export async function planRelease(req: ReleaseRequest, client: GithubClient): Promise<ReleasePlan> {
  checkRequest(req);
  const infra = repoText(req.infraRepo);
  const infraRepo = await client.repository(req.infraRepo, `infrastructure repository ${infra}`);
  const commit = await client.branchHead(req.infraRepo, infraRepo.defaultBranch, infra);
  const file = await client.fileAt(req.infraRepo, req.appsPath, commit, infra);

  const parsed = parseCatalog(file.text, req.appsPath, { knownStacks: req.knownStacks });
  if (!parsed.catalog)
    refuse(`release: ${req.appsPath} on ${infra}@${infraRepo.defaultBranch} is invalid: ${formatError(parsed.errors[0])}`);
  const app = parsed.catalog.apps.find((a) => a.name === req.app);
  if (!app) refuse(`release: unknown app "${req.app}" in ${req.appsPath}; apps: ${parsed.catalog.apps.map((a) => a.name).join(", ")}`);
  const oldTag = app.tags[req.stack];
  const runsOn = Object.keys(app.tags);
  if (oldTag === undefined)
    refuse(
      `release: ${app.name} does not run on stack "${req.stack}" (no tags.${req.stack} in ${req.appsPath}); it runs on: ${runsOn.join(", ") || "no stack"}`,
    );
  if (oldTag === req.tag) refuse(`release: ${app.name} is already at ${req.tag} on ${req.stack}; nothing to release`);

  const appRepo = parseRepo(app.repo);
  const appInfo = await client.repository(appRepo, app.name);
  if (!(await client.tagExists(appRepo, req.tag, app.name)))
    refuse(`release: tag "${req.tag}" does not exist in ${app.repo}; push the tag first`);

  const text = setTags(file.text, req.appsPath, [{ app: app.name, stack: req.stack, tag: req.tag }]);
  const changes = changedLines(file.text, text);
  // The whole point of a release PR: a reviewer sees one line, a rollback reverts one line.
  if (changes.length !== 1) refuse(`release: the edit would change ${changes.length} lines of ${req.appsPath}, not one; refusing`);

  const compareUrl = oldTag === LATEST ? undefined : `${appInfo.htmlUrl}/compare/${oldTag}...${req.tag}`;
  const plan = {
    app: app.name,
    repo: app.repo,
    stack: req.stack,
    oldTag,
    newTag: req.tag,
    compareUrl,
    base: { branch: infraRepo.defaultBranch, commit },
    branch: `release/${app.name}/${req.stack}/${req.tag}`,
    change: changes[0],
    diff: renderDiff(req.appsPath, changes),
    title: `Release ${app.name} ${req.tag} to ${req.stack}`,
    content: { text, replacesSha: file.sha },
  };
  return { ...plan, body: pullRequestBody(plan) };
}

export function pullRequestBody(p: Omit<ReleasePlan, "body" | "content">): string {
  return [
    `Release **${p.app}** \`${p.newTag}\` to the **${p.stack}** stack.`,
    "",
    "| | |",
    "|---|---|",
    `| app | \`${p.app}\` (${p.repo}) |`,
    `| stack | \`${p.stack}\` |`,
    `| old tag | \`${p.oldTag}\` |`,
    `| new tag | \`${p.newTag}\` |`,
    `| compare | ${p.compareUrl ?? `none (the old tag was \`${LATEST}\`)`} |`,
    "",
    "```diff",
    p.diff,
    "```",
    "",
    "Merging this pull request deploys it (`pulumi up`). Rolling back is reverting it.",
    "",
    "Opened by `npm run release`.",
  ].join("\n");
}

/** Plans the release and, unless it is a dry run, opens the pull request (branch, commit, PR). */
export async function release(req: ReleaseRequest, client: GithubClient): Promise<ReleaseResult> {
  const plan = await planRelease(req, client);
  if (req.dryRun) return plan;
  const infra = repoText(req.infraRepo);
  const { text, replacesSha } = plan.content;
  await client.createBranch(req.infraRepo, plan.branch, plan.base.commit, infra);
  await client.commitFile(req.infraRepo, { branch: plan.branch, path: req.appsPath, text, sha: replacesSha, message: plan.title }, infra);
  const pullRequest = await client.openPullRequest(
    req.infraRepo,
    { head: plan.branch, base: plan.base.branch, title: plan.title, body: plan.body },
    infra,
  );
  return { ...plan, pullRequest };
}

/** owner/name of a GitHub remote URL (https, ssh or scp-like), or undefined. */
export function repoFromRemote(url: string): RepoRef | undefined {
  const m =
    /^(?:https?:\/\/(?:[^@/]+@)?[^/]+\/|ssh:\/\/(?:[^@/]+@)?[^/]+\/|[^@/\s]+@[^:/\s]+:)([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+?)(?:\.git)?\/?$/.exec(
      url.trim(),
    );
  return m ? { owner: m[1], name: m[2] } : undefined;
}
