// One app's GitHub repository as the fleet needs it:
//  - a read-only deploy key per stack: the app's key (components/app/appKeys.ts), whose private half the
//    nodes clone the release tags with;
//  - on the one stack that manages repositories (fleet:github.manageRepositories, production as
//    shipped): the branch model develop -> alpha -> production with develop as the default,
//    alpha and production protected by a branch ruleset, and a tag ruleset so only allowed
//    actors cut release tags. The two rulesets are per repository, or with
//    fleet:github.rulesets: organization one pair per owner for every app of the stack
//    (organizationRulesets below).
//
// The resources are the app's AppDeployment's children: no component of its own, which at 200
// apps would be 200 more resources (issue 11). `aliases` carry those of stacks deployed when
// they were an AppRepository component's, so Pulumi keeps them instead of replacing them.
//
// The repository itself is not created or adopted: it exists, with its issues and history, and
// belongs to the app's team. Branches that already exist must be imported once (docs/github.md).
// Branches are kept when an app leaves the catalog (retainOnDelete): they hold the team's work.
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { GithubConfig, GithubSettings, rulesetActor } from "../../config/githubConfig";

/** The persistent branches, each cut from the one before it. */
export const BRANCHES = ["develop", "alpha", "production"] as const;
/** Branches a change reaches only through a reviewed pull request. */
export const PROTECTED_BRANCHES = ["alpha", "production"] as const;
/** The component the resources had before (aliases). */
const FORMER_COMPONENT = "fleet:github:AppRepository";

export interface AppRepositoryArgs {
  /** The app's name in apps.yaml. */
  app: string;
  /** owner/name on GitHub. */
  repo: string;
  stack: string;
  /** fleet:github, github:owner and github:token as the stack resolved them (config/). The owner is
   *  the one the default GitHub provider manages: a repository of another owner gets a provider of
   *  its own (the provider addresses repositories by name within one owner, so sharing it would
   *  touch the wrong repository). */
  github: GithubSettings;
  /** The public half of the app's key (components/app/appKeys.ts): the deploy key. */
  publicKey: pulumi.Input<string>;
}

/** What the rest of the program knows of an app's repository. */
export interface AppRepository {
  /** SSH clone address for the nodes, e.g. git@github.com:uni-it/polls.git. */
  cloneUrl: string;
  /** The SSH host the nodes clone from (its host key goes in their known_hosts). */
  sshHost: string;
  /** Whether this stack manages the repository's branches (and, per repository, its rules). */
  managed: boolean;
}

/** Declares the app's deploy key and, where this stack manages the repository, its branches and
 *  (fleet:github.rulesets: repository) its rulesets; `parent` is the app's AppDeployment. */
export function declareAppRepository(args: AppRepositoryArgs, parent: pulumi.Resource): AppRepository {
  const name = args.app;
  const [owner, repository] = splitRepo(args.repo);
  const aliases = [{ parent: pulumi.createUrn(name, FORMER_COMPONENT) }];
  const provider = providerFor(name, owner, args, parent, aliases);
  const child: pulumi.CustomResourceOptions = { parent, provider, aliases };

  new github.RepositoryDeployKey(
    `${name}-deploy-key`,
    // One key per stack: stacks never share (or fight over) a key, and dropping a stack drops its key.
    { repository, title: `fleet ${args.stack}: ${args.app}`, key: args.publicKey, readOnly: true },
    child,
  );
  const host = args.github.cloneHost;
  const managed = args.github.manageRepositories;
  if (managed) {
    const branches = manageBranches(name, repository, args.github, child);
    if (args.github.rulesets === "repository") repositoryRulesets(name, repository, args.github, branches, child);
  }
  return { cloneUrl: `git@${host}:${owner}/${repository}.git`, sshHost: host, managed };
}

function providerFor(
  name: string,
  owner: string,
  args: AppRepositoryArgs,
  parent: pulumi.Resource,
  aliases: pulumi.Alias[],
): github.Provider | undefined {
  return servedByDefaultProvider(owner, args.github) ? undefined : ownerProvider(`${name}-github`, owner, args.github, { parent, aliases });
}

/** Whether the default GitHub provider (github.com, `github:owner`) reaches this owner's repositories. */
function servedByDefaultProvider(owner: string, cfg: GithubSettings): boolean {
  return owner === cfg.owner && !cfg.apiUrl;
}

/** A provider for one owner: github:token (a secret) when set, else the provider reads GITHUB_TOKEN itself. */
function ownerProvider(name: string, owner: string, cfg: GithubSettings, opts: pulumi.CustomResourceOptions): github.Provider {
  const token = cfg.token === undefined ? undefined : pulumi.secret(cfg.token);
  return new github.Provider(name, { owner, token, baseUrl: cfg.apiUrl ? `${cfg.apiUrl.replace(/\/+$/, "")}/` : undefined }, opts);
}

function manageBranches(
  name: string,
  repository: string,
  cfg: GithubConfig,
  child: pulumi.CustomResourceOptions,
): Record<string, github.Branch> {
  const branches: Record<string, github.Branch> = {};
  let source: pulumi.Input<string> = cfg.sourceBranch;
  for (const branch of BRANCHES) {
    branches[branch] = new github.Branch(
      `${name}-${branch}`,
      { repository, branch, sourceBranch: source },
      { ...child, retainOnDelete: true },
    );
    source = branches[branch].branch;
  }
  new github.BranchDefault(`${name}-default-branch`, { repository, branch: branches.develop.branch }, child);
  return branches;
}

/** What a branch protection each did, for both protected branches: reviewed pull requests (stale
 *  approvals dismissed), the status checks on an up-to-date branch, no force push, no deletion;
 *  and, with no bypass actors, for admins too. Pure. */
function protectedBranchRules(cfg: GithubConfig): github.types.input.RepositoryRulesetRules & github.types.input.OrganizationRulesetRules {
  return {
    pullRequest: { requiredApprovingReviewCount: cfg.requiredReviews, dismissStaleReviewsOnPush: true },
    requiredStatusChecks:
      cfg.statusChecks.length > 0
        ? { strictRequiredStatusChecksPolicy: true, requiredChecks: cfg.statusChecks.map((context) => ({ context })) }
        : undefined,
    nonFastForward: true,
    deletion: true,
  };
}

/** Creating, moving or deleting a release tag is a deploy decision: only the configured actors may. */
function releaseTagRuleset(cfg: GithubConfig) {
  return {
    conditions: { refName: { includes: [`refs/tags/${cfg.releaseTagPattern}`], excludes: [] } },
    rules: { creation: true, update: true, deletion: true },
    bypassActors: cfg.tagActors.map((a) => ({ ...rulesetActor(a), bypassMode: "always" })),
  };
}

function repositoryRulesets(
  name: string,
  repository: string,
  cfg: GithubConfig,
  branches: Record<string, github.Branch>,
  child: pulumi.CustomResourceOptions,
): void {
  new github.RepositoryRuleset(
    `${name}-protected-branches`,
    {
      repository,
      name: "fleet protected branches",
      target: "branch",
      enforcement: "active",
      conditions: {
        refName: { includes: PROTECTED_BRANCHES.map((b) => pulumi.interpolate`refs/heads/${branches[b].branch}`), excludes: [] },
      },
      rules: protectedBranchRules(cfg),
      bypassActors: [],
    },
    child,
  );
  new github.RepositoryRuleset(
    `${name}-release-tags`,
    { repository, name: "fleet release tags", target: "tag", enforcement: "active", ...releaseTagRuleset(cfg) },
    child,
  );
}

/**
 * fleet:github.rulesets: organization: the same two rulesets once per owner, naming the stack's
 * repositories of that owner (GitHub's organization rulesets: an organization on GitHub Team or
 * Enterprise; docs/github.md). Two resources for the fleet instead of two per app; adding or
 * removing an app updates them. Top-level: they belong to no one app.
 */
export function organizationRulesets(stack: string, apps: { repo: string }[], cfg: GithubSettings): github.OrganizationRuleset[] {
  if (!cfg.manageRepositories || cfg.rulesets !== "organization") return [];
  const byOwner = new Map<string, Set<string>>();
  for (const a of apps) {
    const [owner, repository] = splitRepo(a.repo);
    byOwner.set(owner, (byOwner.get(owner) ?? new Set()).add(repository));
  }
  return [...byOwner.keys()].sort().flatMap((owner) => {
    const repositoryName = { includes: [...byOwner.get(owner)!].sort(), excludes: [] };
    const provider = servedByDefaultProvider(owner, cfg) ? undefined : ownerProvider(`github-${owner}`, owner, cfg, {});
    const tags = releaseTagRuleset(cfg);
    return [
      new github.OrganizationRuleset(
        `github-${owner}-protected-branches`,
        {
          name: `fleet ${stack} protected branches`,
          target: "branch",
          enforcement: "active",
          conditions: { repositoryName, refName: { includes: PROTECTED_BRANCHES.map((b) => `refs/heads/${b}`), excludes: [] } },
          rules: protectedBranchRules(cfg),
          bypassActors: [],
        },
        { provider },
      ),
      new github.OrganizationRuleset(
        `github-${owner}-release-tags`,
        {
          name: `fleet ${stack} release tags`,
          target: "tag",
          enforcement: "active",
          ...tags,
          conditions: { ...tags.conditions, repositoryName },
        },
        { provider },
      ),
    ];
  });
}

function splitRepo(repo: string): [string, string] {
  const parts = repo.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new pulumi.RunError(`AppRepository: "${repo}" is not owner/name`);
  return [parts[0], parts[1]];
}
