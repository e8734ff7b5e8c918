// One app's GitHub repository as the fleet needs it:
//  - a read-only deploy key per stack, whose private half (generated here, a Pulumi secret) the
//    nodes use to clone the release tags;
//  - on the one stack that manages repositories (fleet:github.manageRepositories, production as
//    shipped): the branch model develop -> alpha -> production with develop as the default,
//    alpha and production protected by one branch ruleset, and a tag ruleset so only allowed
//    actors cut release tags.
//
// The repository itself is not created or adopted: it exists, with its issues and history, and
// belongs to the app's team. Branches that already exist must be imported once (docs/github.md).
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { GithubConfig, rulesetActor } from "../config/githubConfig";

/** The persistent branches, each cut from the one before it. */
export const BRANCHES = ["develop", "alpha", "production"] as const;
/** Branches a change reaches only through a reviewed pull request. */
export const PROTECTED_BRANCHES = ["alpha", "production"] as const;

export interface AppRepositoryArgs {
  /** The app's name in apps.yaml. */
  app: string;
  /** owner/name on GitHub. */
  repo: string;
  stack: string;
  github: GithubConfig;
  /**
   * The owner the default GitHub provider manages (`github:owner`; read from config when not
   * given). A repository of another owner gets a provider of its own: the provider addresses
   * repositories by name within one owner, so sharing it would touch the wrong repository.
   */
  defaultOwner?: string;
}

export class AppRepository extends pulumi.ComponentResource {
  /** The deploy key's private half, OpenSSH format: a secret. */
  readonly privateKey: pulumi.Output<string>;
  readonly publicKey: pulumi.Output<string>;
  /** SSH clone address for the nodes, e.g. git@github.com:uni-it/polls.git. */
  readonly cloneUrl: string;
  /** The SSH host the nodes clone from (its host key goes in their known_hosts). */
  readonly sshHost: string;
  /** Whether this stack manages the repository's branches and rules. */
  readonly managed: boolean;

  constructor(name: string, args: AppRepositoryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:github:AppRepository", name, {}, opts);
    const [owner, repository] = splitRepo(args.repo);
    const provider = this.providerFor(name, owner, args);
    const child: pulumi.CustomResourceOptions = { parent: this, provider };

    const key = new tls.PrivateKey(`${name}-deploy-key`, { algorithm: "ED25519" }, { parent: this });
    this.publicKey = key.publicKeyOpenssh.apply((k) => k.trim());
    this.privateKey = pulumi.secret(key.privateKeyOpenssh);
    new github.RepositoryDeployKey(
      `${name}-deploy-key`,
      // One key per stack: stacks never share (or fight over) a key, and dropping a stack drops its key.
      { repository, title: `fleet ${args.stack}: ${args.app}`, key: this.publicKey, readOnly: true },
      child,
    );

    this.sshHost = sshHost(args.github.apiUrl);
    this.cloneUrl = `git@${this.sshHost}:${owner}/${repository}.git`;
    this.managed = args.github.manageRepositories;
    if (this.managed) this.manageBranches(name, repository, args.github, child);

    this.registerOutputs({ privateKey: this.privateKey, publicKey: this.publicKey, cloneUrl: this.cloneUrl, managed: this.managed });
  }

  private providerFor(name: string, owner: string, args: AppRepositoryArgs): github.Provider | undefined {
    const ghConfig = new pulumi.Config("github");
    const defaultOwner = args.defaultOwner ?? ghConfig.get("owner");
    if (defaultOwner === owner && !args.github.apiUrl) return undefined;
    return new github.Provider(
      `${name}-github`,
      // The token: github:token (a secret) when set, else the provider reads GITHUB_TOKEN itself.
      { owner, token: ghConfig.getSecret("token"), baseUrl: args.github.apiUrl ? `${args.github.apiUrl.replace(/\/+$/, "")}/` : undefined },
      { parent: this },
    );
  }

  private manageBranches(name: string, repository: string, cfg: GithubConfig, child: pulumi.CustomResourceOptions): void {
    const branches: Record<string, github.Branch> = {};
    let source: pulumi.Input<string> = cfg.sourceBranch;
    for (const branch of BRANCHES) {
      branches[branch] = new github.Branch(`${name}-${branch}`, { repository, branch, sourceBranch: source }, child);
      source = branches[branch].branch;
    }
    new github.BranchDefault(`${name}-default-branch`, { repository, branch: branches.develop.branch }, child);

    // One branch ruleset for both protected branches enforces what a branch protection each did:
    // reviewed pull requests (stale approvals dismissed), the status checks on an up-to-date
    // branch, no force push, no deletion; and, with no bypass actors, for admins too.
    new github.RepositoryRuleset(
      `${name}-protected-branches`,
      {
        repository,
        name: "fleet protected branches",
        target: "branch",
        enforcement: "active",
        conditions: { refName: { includes: PROTECTED_BRANCHES.map((b) => pulumi.interpolate`refs/heads/${branches[b].branch}`), excludes: [] } },
        rules: {
          pullRequest: { requiredApprovingReviewCount: cfg.requiredReviews, dismissStaleReviewsOnPush: true },
          requiredStatusChecks: cfg.statusChecks.length > 0
            ? { strictRequiredStatusChecksPolicy: true, requiredChecks: cfg.statusChecks.map((context) => ({ context })) }
            : undefined,
          nonFastForward: true,
          deletion: true,
        },
        bypassActors: [],
      },
      child,
    );

    new github.RepositoryRuleset(
      `${name}-release-tags`,
      {
        repository,
        name: "fleet release tags",
        target: "tag",
        enforcement: "active",
        conditions: { refName: { includes: [`refs/tags/${cfg.releaseTagPattern}`], excludes: [] } },
        // Creating, moving or deleting a release tag is a deploy decision: only these actors may.
        rules: { creation: true, update: true, deletion: true },
        bypassActors: cfg.tagActors.map((a) => ({ ...rulesetActor(a), bypassMode: "always" })),
      },
      child,
    );
  }
}

function splitRepo(repo: string): [string, string] {
  const parts = repo.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new pulumi.RunError(`AppRepository: "${repo}" is not owner/name`);
  return [parts[0], parts[1]];
}

/** github.com for the public API, else the API URL's host (GitHub Enterprise serves SSH there). */
export function sshHost(apiUrl: string | undefined): string {
  if (!apiUrl) return "github.com";
  const host = new URL(apiUrl).hostname;
  // api.github.com and GitHub Enterprise Cloud's api.<tenant>.ghe.com serve SSH without the "api.".
  return host === "api.github.com" || /^api\.[^.]+\.ghe\.com$/.test(host) ? host.slice(4) : host;
}
