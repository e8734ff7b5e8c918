// fleet:github: defaults, and one-line errors naming file, line, key and what is allowed.
import { strict as assert } from "assert";
import { DEFAULT_GITHUB_CONFIG, GithubConfig, githubSchema, rulesetActor } from "../../config/githubConfig";
import { checkStack, parseStackFile } from "../../config/stackFile";

const STACK_FILE = `config:
  aws:region: eu-west-1
  fleet:github:
    manageRepositories: true
    statusChecks:
      - ci / test
    tagActors:
      - role: owner
`;

/** fleet:github as the stack file reader checks it: its settings, or its first problem (the
 *  reader's lines about the other, missing keys of this bare file are not this test's). */
function githubSection(raw: { stack: string; value: unknown; fileText?: string }): { config?: GithubConfig; error?: string } {
  const file = `Pulumi.${raw.stack}.yaml`;
  const report = checkStack(
    parseStackFile(raw.fileText ?? "config: {}\n", file),
    { stack: raw.stack, knownStacks: [raw.stack] },
    raw.value === undefined ? {} : { "fleet:github": raw.value },
  );
  const error = report.errors.find((e) => / fleet:github[.:[]/.test(e));
  if (error !== undefined) return { error };
  const { apiUrl, ...rest } = githubSchema.parse(raw.value ?? {});
  return { config: apiUrl === undefined ? rest : { ...rest, apiUrl } };
}

describe("fleet:github config", () => {
  it("fills in defaults: not managing repositories, v* tags, admins cut releases", () => {
    const { config, error } = githubSection({ stack: "alpha", value: undefined });
    assert.equal(error, undefined);
    assert.deepEqual(config, {
      manageRepositories: false,
      statusChecks: [],
      requiredReviews: 1,
      rulesets: "repository",
      releaseTagPattern: "v*",
      tagActors: [{ role: "admin" }],
      sourceBranch: "main",
      prereleases: false,
    });
    assert.deepEqual(config, DEFAULT_GITHUB_CONFIG);
  });

  it("accepts the documented shape", () => {
    const value = {
      manageRepositories: true,
      statusChecks: ["ci / test"],
      releaseTagPattern: "v*",
      tagActors: [{ team: 12 }, { organizationAdmin: true }],
      apiUrl: "https://github.example.edu/api/v3",
      prereleases: true,
    };
    const { config } = githubSection({ stack: "production", value });
    assert.equal(config?.apiUrl, "https://github.example.edu/api/v3");
    assert.deepEqual(config?.tagActors.map(rulesetActor), [{ actorType: "Team", actorId: 12 }, { actorType: "OrganizationAdmin" }]);
  });

  it("names file, line, key and what is allowed, in one line", () => {
    const { error } = githubSection({
      stack: "production",
      value: { manageRepositories: true, statusChecks: ["ci / test"], tagActors: [{ role: "owner" }] },
      fileText: STACK_FILE,
    });
    assert.equal(
      error,
      "Pulumi.production.yaml:8:9: fleet:github.tagActors[0]: must be one of {role: admin|maintain|write}, {team: <team id>}, {app: <GitHub App id>}, {organizationAdmin: true}",
    );
  });

  it("refuses unknown keys, listing the allowed ones", () => {
    const { error } = githubSection({ stack: "alpha", value: { manageRepos: true } });
    assert.match(
      error ?? "",
      /^Pulumi\.alpha\.yaml:1:9: fleet:github\.manageRepos: unknown key; allowed: manageRepositories, statusChecks, .*apiUrl$/,
    );
  });

  it("refuses a bad tag pattern, a non-URL apiUrl and a wrong type", () => {
    assert.match(
      githubSection({ stack: "a", value: { releaseTagPattern: "refs/tags/v*" } }).error ?? "",
      /fleet:github\.releaseTagPattern: a tag pattern such as v\*/,
    );
    assert.match(githubSection({ stack: "a", value: { apiUrl: "github.example.edu" } }).error ?? "", /fleet:github\.apiUrl: an https URL/);
    assert.match(
      githubSection({ stack: "a", value: { manageRepositories: "yes" } }).error ?? "",
      /fleet:github\.manageRepositories: .*boolean/,
    );
    for (const bad of [{ requiredReviews: 0 }, { statusChecks: ["a\nb"] }]) {
      const { error } = githubSection({ stack: "a", value: bad });
      assert.ok(error && !error.includes("\n"), JSON.stringify(bad));
    }
  });
});
