// Typed config of the GitHub side: the `fleet:github` key of Pulumi.<stack>.yaml.
//
// The schema of the section; the stack file reader (config/stackFile.ts) reports every problem of
// it with the file's line (ONE line naming the file, line, key and what is allowed) and resolves
// it, with github:owner and github:token, into GithubSettings.
import { z } from "zod";

export const CONFIG_KEY = "github";

/**
 * Who may create, move or delete release tags (bypass actors of the tag ruleset), in the
 * provider's own terms. Repository roles by name are accepted as a shorthand for the built-in
 * role ids GitHub documents (maintain 2, write 4, admin 5).
 */
const ROLE_IDS = { maintain: 2, write: 4, admin: 5 } as const;

const actor = z.union([
  z.strictObject({ role: z.enum(["admin", "maintain", "write"]) }),
  z.strictObject({ team: z.number().int().positive() }),
  z.strictObject({ app: z.number().int().positive() }),
  z.strictObject({ organizationAdmin: z.literal(true) }),
]);

/** A release tag pattern as GitHub rulesets take it: fnmatch style, no ref prefix. */
const TAG_GLOB = /^(?!refs\/)[A-Za-z0-9._*/-]{1,100}$/;
/** A status check context as GitHub shows it ("ci / test", "Pulumi (alpha)"). */
const CHECK_NAME = /^[^\r\n\0]{1,255}$/;
const BRANCH = /^(?!.*\.\.)(?!\/)(?!.*\/$)[A-Za-z0-9._/-]{1,100}$/;

export const githubSchema = z.strictObject({
  // Exactly one stack manages the repositories' settings (branches, protection, tag ruleset):
  // two stacks writing the same settings would undo each other on every `pulumi up`.
  manageRepositories: z.boolean().default(false),
  statusChecks: z.array(z.string().regex(CHECK_NAME, "a status check name on one line")).default([]),
  requiredReviews: z.number().int().min(1).max(6).default(1),
  releaseTagPattern: z.string().regex(TAG_GLOB, "a tag pattern such as v* (letters, digits, '.', '_', '-', '/', '*')").default("v*"),
  tagActors: z.array(actor).default([{ role: "admin" }]),
  // Where the branch and tag rulesets live: on each repository, or once per owner as organization
  // rulesets naming the stack's repositories (GitHub Team or Enterprise; two resources for the
  // fleet instead of two per app).
  rulesets: z.enum(["repository", "organization"]).default("repository"),
  // The branch `develop` is cut from when it does not exist yet (only used at creation).
  sourceBranch: z.string().regex(BRANCH, "a branch name such as main").default("main"),
  // `tag: latest` on this stack may resolve to a pre-release (e.g. v2.0.0-rc.1).
  prereleases: z.boolean().default(false),
  // GitHub Enterprise Server: https://HOST/api/v3. Empty means github.com.
  // https only: the token travels with every request.
  apiUrl: z
    .url({
      protocol: /^https$/,
      error: "an https URL such as https://github.example.edu/api/v3 (never http: the token travels with every request)",
    })
    .optional(),
});

/**
 * Whether a tag is one the release tag ruleset covers: its pattern read as GitHub reads ref
 * patterns, Ruby's File.fnmatch with FNM_PATHNAME (docs/github.md): `*` any run of characters
 * within one `/`-separated part, `**` then `/` any number of whole parts. Read narrowly where Ruby could
 * differ: a `*` never stands for a part's leading `.` (FNM_DOTMATCH is off), so a tag this calls
 * covered is covered.
 */
export function releaseTagMatcher(pattern: string): (tag: string) => boolean {
  const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  let re = "";
  for (let i = 0; i < pattern.length;) {
    const atPartStart = i === 0 || pattern[i - 1] === "/";
    if (pattern.startsWith("**/", i)) {
      re += "(?:(?!\\.)[^/]*/)*";
      i += 3;
    } else if (pattern[i] === "*") {
      while (pattern[i] === "*") i += 1;
      re += atPartStart ? "(?!\\.)[^/]*" : "[^/]*";
    } else {
      re += escape(pattern[i]);
      i += 1;
    }
  }
  const compiled = new RegExp(`^${re}$`);
  return (tag) => compiled.test(tag);
}

export type TagActor = z.infer<typeof actor>;
export type GithubConfig = z.infer<typeof githubSchema>;

export const DEFAULT_GITHUB_CONFIG: GithubConfig = githubSchema.parse({});

/** fleet:github resolved with the provider's own keys: what the program's GitHub side takes. */
export interface GithubSettings extends GithubConfig {
  /** github:owner: the owner the default GitHub provider serves. */
  owner?: string;
  /** github:token (a secret): else the providers read GITHUB_TOKEN themselves. */
  token?: string;
  /** The host the nodes clone from by default: github.com, or the Enterprise host the API lives on. */
  cloneHost: string;
}

/** fleet:github with github:owner and github:token, resolved (the stack file reader's result). */
export function githubSettings(config: GithubConfig, owner?: string, token?: string): GithubSettings {
  return { ...config, owner, token, cloneHost: sshHost(config.apiUrl) };
}

/** github.com for the public API, else the API URL's host (GitHub Enterprise serves SSH there). */
export function sshHost(apiUrl: string | undefined): string {
  if (!apiUrl) return "github.com";
  const host = new URL(apiUrl).hostname;
  // api.github.com and GitHub Enterprise Cloud's api.<tenant>.ghe.com serve SSH without the "api.".
  return host === "api.github.com" || /^api\.[^.]+\.ghe\.com$/.test(host) ? host.slice(4) : host;
}

/** The bypass actor ids and types the provider wants, from the config's friendlier names. */
export function rulesetActor(a: TagActor): { actorType: string; actorId?: number } {
  if ("role" in a) return { actorType: "RepositoryRole", actorId: ROLE_IDS[a.role] };
  if ("team" in a) return { actorType: "Team", actorId: a.team };
  if ("app" in a) return { actorType: "Integration", actorId: a.app };
  // Organization admins have no actor id: GitHub ignores one.
  return { actorType: "OrganizationAdmin" };
}

/** One zod issue of fleet:github as what is wrong and what is allowed. */
export function explain(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "unrecognized_keys":
      return `unknown key ${issue.keys.join(", ")}; allowed: ${Object.keys(githubSchema.shape).join(", ")}`;
    case "invalid_union":
      return "must be one of {role: admin|maintain|write}, {team: <team id>}, {app: <GitHub App id>}, {organizationAdmin: true}";
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message.replace(/^Invalid string: must match pattern .*$/, "has an invalid format");
  }
}
