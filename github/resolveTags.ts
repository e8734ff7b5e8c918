// `tag: latest` in apps.yaml, made concrete before anything is deployed: the program calls
// resolveTags() and exports what `latest` meant, so the stack's update history says which
// release each app actually got.
import { LATEST } from "../config/catalog";
import { releaseTagMatcher } from "../config/githubConfig";
import { GithubClient, GithubError, parseRepo } from "./api";

/** What index.ts needs of an app on a stack. */
export interface TaggedApp {
  name: string;
  repo: string;
  tag: string;
}

export interface ResolveOptions {
  /** Whether `latest` may be a pre-release on this stack (fleet:github.prereleases). */
  prerelease?: boolean;
  /** fleet:github.releaseTagPattern of the rules: `latest` is only ever a tag they protect. */
  releaseTagPattern?: string;
  client?: GithubClient;
  /**
   * Leave `latest` as it is, asking GitHub nothing: for the offline plan, which must work
   * without a token (forks' pull requests; the program's settings say so: config/load.ts).
   */
  offline?: boolean;
}

export interface ResolvedTags<A extends TaggedApp> {
  /** The same apps, `latest` replaced by the newest release tag. */
  apps: A[];
  /** app name -> the tag `latest` stood for on this run (only apps that asked for latest). */
  latest: Record<string, string>;
}

/**
 * Resolves every `latest` of the apps on `stack` in one go (in parallel). If any app cannot be
 * resolved, throws one GithubError listing every failing app, one line each.
 */
export async function resolveTags<A extends TaggedApp>(apps: A[], stack: string, options: ResolveOptions = {}): Promise<ResolvedTags<A>> {
  const wanted = apps.filter((a) => a.tag === LATEST);
  if (wanted.length === 0 || options.offline) return { apps, latest: Object.fromEntries(wanted.map((a) => [a.name, LATEST])) };

  const client = options.client ?? new GithubClient();
  const pattern = options.releaseTagPattern;
  const covered = pattern === undefined ? undefined : releaseTagMatcher(pattern);
  const results = await Promise.allSettled(
    wanted.map(async (a) => {
      const tag = await client.newestReleaseTag(parseRepo(a.repo), { prerelease: !!options.prerelease, label: a.name, covered });
      if (!tag)
        throw new GithubError(
          `${a.name}: ${a.repo} has no release tags (like v1.2.3${pattern ? `, matching the protected ${pattern}` : ""}) for "latest" on stack ${stack}; pin a tag in apps.yaml`,
        );
      return [a.name, tag] as const;
    }),
  );
  const failures = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
  if (failures.length > 0) throw new GithubError(failures.join("\n"));
  const latest = Object.fromEntries(results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])));
  return { apps: apps.map((a) => (a.tag === LATEST ? { ...a, tag: latest[a.name] } : a)), latest };
}
