// An app's repository under Pulumi's runtime mocks: what it declares on GitHub (per repository,
// and with fleet:github.rulesets: organization once per owner), under the app's component.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { AppRepository, declareAppRepository, organizationRulesets } from "../../components/app/appRepository";
import { DEFAULT_GITHUB_CONFIG, GithubConfig, githubSettings, sshHost } from "../../config/githubConfig";
import { decodeWire, recordUnderMocks, Recorder, settle } from "../../offline/recorder";

interface Registered {
  type: string;
  name: string;
  parent: string;
  provider: string;
  inputs: Record<string, unknown>;
}

const registered: Registered[] = [];
let recorder: Recorder;

class Mocks implements pulumi.runtime.Mocks {
  newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
    const state: Record<string, unknown> = { ...args.inputs };
    return { id: `${args.name}-id`, state };
  }
  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    return args.inputs;
  }
}

function value<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetTestKey fleet-polls";

/** The app's component, as AppDeployment is. */
class AppComponent extends pulumi.ComponentResource {
  constructor(name: string) {
    super("fleet:app:AppDeployment", name, {});
  }
}

async function recorded(): Promise<void> {
  await settle();
  registered.splice(
    0,
    registered.length,
    ...recorder.drain().map((r) => ({
      type: r.type,
      name: r.name,
      parent: r.parent,
      provider: r.provider,
      inputs: decodeWire(r.wire, true) as Record<string, unknown>,
    })),
  );
}

/** Declares polls' repository under its component and waits until every child is registered. */
async function declare(
  cfg: Partial<GithubConfig>,
  extra: { repo?: string; defaultOwner?: string } = {},
): Promise<{ repo: AppRepository; byType: (t: string) => Registered[] }> {
  recorder.drain();
  const parent = new AppComponent("polls");
  const repo = declareAppRepository(
    {
      app: "polls",
      repo: extra.repo ?? "uni-it/polls",
      stack: "production",
      github: githubSettings({ ...DEFAULT_GITHUB_CONFIG, ...cfg }, extra.defaultOwner ?? "uni-it"),
      publicKey: PUBLIC_KEY,
    },
    parent,
  );
  await value(parent.urn);
  await recorded();
  return { repo, byType: (t) => registered.filter((r) => r.type === t) };
}

describe("an app's repository (runtime mocks)", () => {
  before(() => {
    recorder = recordUnderMocks(() => new Mocks(), "fleet", "production");
  });

  it("on the managing stack: develop, alpha, production from the source branch, develop the default", async () => {
    const { byType } = await declare({ manageRepositories: true, sourceBranch: "master" });
    const branches = byType("github:index/branch:Branch").map((b) => [b.inputs.branch, b.inputs.sourceBranch, b.inputs.repository]);
    assert.deepEqual(branches, [
      ["develop", "master", "polls"],
      ["alpha", "develop", "polls"],
      ["production", "alpha", "polls"],
    ]);
    const def = byType("github:index/branchDefault:BranchDefault");
    assert.deepEqual(
      def.map((d) => [d.inputs.repository, d.inputs.branch]),
      [["polls", "develop"]],
    );
  });

  it("protects alpha and production: reviewed pull requests, status checks, no force push, no deletion", async () => {
    const { byType } = await declare({ manageRepositories: true, statusChecks: ["ci / test", "plan"], requiredReviews: 2 });
    const rulesets = byType("github:index/repositoryRuleset:RepositoryRuleset").filter((r) => r.inputs.target === "branch");
    assert.equal(rulesets.length, 1);
    const [ruleset] = rulesets;
    assert.equal(ruleset.inputs.repository, "polls");
    assert.equal(ruleset.inputs.enforcement, "active");
    assert.deepEqual(ruleset.inputs.conditions, { refName: { includes: ["refs/heads/alpha", "refs/heads/production"], excludes: [] } });
    // no bypass actors: admins too (what enforceAdmins did)
    assert.deepEqual(ruleset.inputs.bypassActors, []);
    assert.deepEqual(ruleset.inputs.rules, {
      pullRequest: { requiredApprovingReviewCount: 2, dismissStaleReviewsOnPush: true },
      requiredStatusChecks: { strictRequiredStatusChecksPolicy: true, requiredChecks: [{ context: "ci / test" }, { context: "plan" }] },
      nonFastForward: true,
      deletion: true,
    });
    assert.deepEqual(byType("github:index/branchProtection:BranchProtection"), []);
    const none = await declare({ manageRepositories: true });
    const rules = none.byType("github:index/repositoryRuleset:RepositoryRuleset").find((r) => r.inputs.target === "branch")!.inputs
      .rules as Record<string, unknown>;
    assert.equal(rules.requiredStatusChecks, undefined);
  });

  it("lets only the allowed actors create, move or delete release tags", async () => {
    const { byType } = await declare({
      manageRepositories: true,
      releaseTagPattern: "release-*",
      tagActors: [{ role: "maintain" }, { team: 42 }, { app: 7 }, { organizationAdmin: true }],
    });
    const [ruleset, ...more] = byType("github:index/repositoryRuleset:RepositoryRuleset").filter((r) => r.inputs.target === "tag");
    assert.equal(more.length, 0);
    assert.equal(ruleset.inputs.repository, "polls");
    assert.equal(ruleset.inputs.target, "tag");
    assert.equal(ruleset.inputs.enforcement, "active");
    assert.deepEqual(ruleset.inputs.conditions, { refName: { includes: ["refs/tags/release-*"], excludes: [] } });
    assert.deepEqual(ruleset.inputs.rules, { creation: true, update: true, deletion: true });
    assert.deepEqual(ruleset.inputs.bypassActors, [
      { actorType: "RepositoryRole", actorId: 2, bypassMode: "always" },
      { actorType: "Team", actorId: 42, bypassMode: "always" },
      { actorType: "Integration", actorId: 7, bypassMode: "always" },
      { actorType: "OrganizationAdmin", bypassMode: "always" },
    ]);
  });

  it("a read-only deploy key per stack: the app's public key", async () => {
    const { repo, byType } = await declare({ manageRepositories: true });
    const [deployKey, ...others] = byType("github:index/repositoryDeployKey:RepositoryDeployKey");
    assert.equal(others.length, 0);
    assert.deepEqual(
      {
        repository: deployKey.inputs.repository,
        readOnly: deployKey.inputs.readOnly,
        title: deployKey.inputs.title,
        key: deployKey.inputs.key,
      },
      { repository: "polls", readOnly: true, title: "fleet production: polls", key: PUBLIC_KEY },
    );
    assert.equal(
      byType("tls:index/privateKey:PrivateKey").length,
      0,
      "the key is the app's (components/app/appKeys.ts), not a resource of its own",
    );
    assert.equal(repo.cloneUrl, "git@github.com:uni-it/polls.git");
  });

  it("on a stack that does not manage repositories: the deploy key alone", async () => {
    const { byType } = await declare({ manageRepositories: false });
    const types = [...new Set(registered.map((r) => r.type))].sort();
    assert.deepEqual(types, ["fleet:app:AppDeployment", "github:index/repositoryDeployKey:RepositoryDeployKey"]);
    assert.equal(byType("github:index/branch:Branch").length, 0);
  });

  it("every resource is the app component's child, no component of its own; repositories go to the provider by name", async () => {
    const { byType } = await declare({ manageRepositories: true });
    const children = registered.filter((r) => r.type !== "fleet:app:AppDeployment");
    assert.equal(children.length, 7);
    for (const r of children) assert.match(r.parent, /fleet:app:AppDeployment::polls$/, `${r.type} ${r.name}`);
    assert.equal(registered.filter((r) => r.type === "fleet:github:AppRepository").length, 0);
    // github:owner is uni-it: the default provider serves it, no extra provider
    assert.equal(byType("pulumi:providers:github").length, 0);
  });

  it("fleet:github.rulesets: organization: no ruleset on the repository, one pair per owner naming the stack's repositories", async () => {
    const { byType } = await declare({ manageRepositories: true, rulesets: "organization" });
    assert.equal(byType("github:index/repositoryRuleset:RepositoryRuleset").length, 0);
    assert.equal(byType("github:index/branch:Branch").length, 3, "the branches stay per repository");
    recorder.drain();
    const cfg = githubSettings(
      {
        ...DEFAULT_GITHUB_CONFIG,
        manageRepositories: true,
        rulesets: "organization" as const,
        statusChecks: ["ci / test"],
        tagActors: [{ team: 42 }],
      },
      "uni-it",
    );
    const rulesets = organizationRulesets(
      "production",
      [{ repo: "uni-it/polls" }, { repo: "uni-estates/room-booking" }, { repo: "uni-it/library-catalogue" }],
      cfg,
    );
    assert.equal(rulesets.length, 4);
    await value(rulesets[3].urn);
    await recorded();
    const org = registered.filter((r) => r.type === "github:index/organizationRuleset:OrganizationRuleset");
    assert.deepEqual(org.map((r) => r.name).sort(), [
      "github-uni-estates-protected-branches",
      "github-uni-estates-release-tags",
      "github-uni-it-protected-branches",
      "github-uni-it-release-tags",
    ]);
    const branches = org.find((r) => r.name === "github-uni-it-protected-branches")!;
    assert.deepEqual(branches.inputs.conditions, {
      refName: { includes: ["refs/heads/alpha", "refs/heads/production"], excludes: [] },
      repositoryName: { includes: ["library-catalogue", "polls"], excludes: [] },
    });
    assert.equal(branches.inputs.name, "fleet production protected branches");
    assert.deepEqual(branches.inputs.bypassActors, []);
    assert.deepEqual((branches.inputs.rules as Record<string, unknown>).requiredStatusChecks, {
      strictRequiredStatusChecksPolicy: true,
      requiredChecks: [{ context: "ci / test" }],
    });
    const tags = org.find((r) => r.name === "github-uni-estates-release-tags")!;
    assert.deepEqual(tags.inputs.conditions, {
      refName: { includes: ["refs/tags/v*"], excludes: [] },
      repositoryName: { includes: ["room-booking"], excludes: [] },
    });
    assert.deepEqual(tags.inputs.bypassActors, [{ actorType: "Team", actorId: 42, bypassMode: "always" }]);
    // Another owner's rulesets go through a provider for that owner; the default owner's through the default provider.
    assert.match(tags.provider, /pulumi:providers:github::github-uni-estates::/);
    assert.doesNotMatch(branches.provider, /github-uni-it/);
    assert.deepEqual(organizationRulesets("production", [{ repo: "uni-it/polls" }], { ...cfg, rulesets: "repository" }), []);
    assert.deepEqual(organizationRulesets("production", [{ repo: "uni-it/polls" }], { ...cfg, manageRepositories: false }), []);
  });

  it("a repository of another owner gets its own provider for that owner", async () => {
    const { byType, repo } = await declare({ manageRepositories: true }, { repo: "uni-estates/room-booking" });
    const [provider, ...more] = byType("pulumi:providers:github");
    assert.equal(more.length, 0);
    assert.equal(provider.inputs.owner, "uni-estates");
    const githubChildren = registered.filter((r) => r.type.startsWith("github:index/"));
    assert.ok(githubChildren.length > 0);
    for (const r of githubChildren) {
      assert.match(r.provider, /pulumi:providers:github::polls-github::/, `${r.type} ${r.name}`);
      assert.equal(r.inputs.repository ?? r.inputs.repositoryId, "room-booking");
    }
    assert.equal(repo.cloneUrl, "git@github.com:uni-estates/room-booking.git");
  });

  it("GitHub Enterprise: the provider gets the API URL and nodes clone from its host", async () => {
    const { byType, repo } = await declare({ apiUrl: "https://github.example.edu/api/v3" });
    assert.equal(byType("pulumi:providers:github")[0].inputs.baseUrl, "https://github.example.edu/api/v3/");
    assert.equal(repo.cloneUrl, "git@github.example.edu:uni-it/polls.git");
    assert.equal(sshHost("https://api.uni.ghe.com"), "uni.ghe.com");
    assert.equal(sshHost(undefined), "github.com");
  });
});
