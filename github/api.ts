// The GitHub REST API, as the fleet needs it: release tags of the apps' repositories and the
// release pull request on the infrastructure repository. Pure of Pulumi (the tools and the
// program share it).
//
// @octokit/rest 22 and its plugins are ESM-only; this project compiles to CommonJS. Node 22.12+
// loads ESM through require() (none of these modules use top-level await), so the plain imports
// below work under ts-node, mocha and the Pulumi language host alike.
import { Octokit } from "@octokit/rest";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { newestVersion } from "./versions";

export const DEFAULT_API_URL = "https://api.github.com";

const FleetOctokit = Octokit.plugin(retry, throttling);
type Client = InstanceType<typeof FleetOctokit>;

export interface GithubOptions {
  /** Default: $GITHUB_TOKEN. Without one, only public repositories answer (and at 60 requests an hour). */
  token?: string;
  /** Default: $GITHUB_API_URL, else https://api.github.com. GitHub Enterprise Server: https://HOST/api/v3. */
  baseUrl?: string;
  /** Retries of 5xx answers and dropped connections (default 3). */
  retries?: number;
  /** Retries after hitting a rate limit (default 2). */
  rateLimitRetries?: number;
  /** A rate limit resetting later than this fails at once instead of hanging the command (default 300 s). */
  maxRateLimitWaitSeconds?: number;
  /** Milliseconds per unit of back-off (default 1000, as Octokit's plugins). Tests make it tiny. */
  retryBaseMs?: number;
  /** Where waiting notices go (default: stderr). */
  warn?: (line: string) => void;
}

/** A repository as "owner/name", split. */
export interface RepoRef {
  owner: string;
  name: string;
}

/** An error worded for people: one line, naming the app (or repository) concerned. */
export class GithubError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "GithubError";
  }
}

export function parseRepo(repo: string): RepoRef {
  const m = /^([A-Za-z0-9][A-Za-z0-9-]*)\/([A-Za-z0-9._-]+)$/.exec(repo);
  if (!m) throw new GithubError(`"${repo}" is not a GitHub repository as owner/name`);
  return { owner: m[1], name: m[2] };
}

export const repoText = (r: RepoRef) => `${r.owner}/${r.name}`;

interface HttpFailure {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

function isHttpFailure(err: unknown): err is HttpFailure {
  return typeof err === "object" && err !== null && typeof (err as { status?: unknown }).status === "number";
}

const quiet = () => undefined;

export class GithubClient {
  readonly baseUrl: string;
  private readonly octokit: Client;

  constructor(options: GithubOptions = {}) {
    this.baseUrl = (options.baseUrl ?? process.env.GITHUB_API_URL ?? DEFAULT_API_URL).replace(/\/+$/, "");
    const token = options.token ?? process.env.GITHUB_TOKEN;
    const base = options.retryBaseMs ?? 1000;
    const warn = options.warn ?? ((line: string) => process.stderr.write(`${line}\n`));
    const rateLimitRetries = options.rateLimitRetries ?? 2;
    const maxWait = options.maxRateLimitWaitSeconds ?? 300;
    const onLimit = (kind: string) => (retryAfter: number, request: { method: string; url: string }, _o: unknown, count: number) => {
      if (count >= rateLimitRetries || retryAfter > maxWait) return false;
      warn(`github: ${kind} on ${request.method} ${request.url}; retrying in ${retryAfter}s (${count + 1}/${rateLimitRetries})`);
      return true;
    };
    this.octokit = new FleetOctokit({
      auth: token || undefined,
      baseUrl: this.baseUrl,
      userAgent: "fleet-release-tools",
      // Octokit's request log prints every failed request; our errors say it once, in one line.
      log: { debug: quiet, info: quiet, warn, error: quiet },
      retry: { retries: options.retries ?? 3, retryAfterBaseValue: base },
      throttle: { retryAfterBaseValue: base, onRateLimit: onLimit("rate limit"), onSecondaryRateLimit: onLimit("secondary rate limit") },
    });
  }

  /** Every tag name of a repository, all pages read. */
  async listTags(repo: RepoRef, label: string): Promise<string[]> {
    return this.call(label, repo, async () => {
      const tags = await this.octokit.paginate(this.octokit.rest.repos.listTags, { owner: repo.owner, repo: repo.name, per_page: 100 });
      return tags.map((t) => t.name);
    });
  }

  /** The highest version tag (semver order; v1.2.3 and 1.2.3 alike), or undefined when there is none. */
  async newestReleaseTag(
    repo: RepoRef,
    options: { prerelease: boolean; label?: string; covered?: (tag: string) => boolean },
  ): Promise<string | undefined> {
    return newestVersion(await this.listTags(repo, options.label ?? repoText(repo)), options);
  }

  /** Whether the tag exists (an exact ref, not a prefix match). */
  async tagExists(repo: RepoRef, tag: string, label: string): Promise<boolean> {
    return this.call(label, repo, async () => {
      try {
        await this.octokit.rest.git.getRef({ owner: repo.owner, repo: repo.name, ref: `tags/${tag}` });
        return true;
      } catch (err) {
        // The repository answered already (see `repository`): a 404 here is the tag alone.
        if (isHttpFailure(err) && err.status === 404) return false;
        throw err;
      }
    });
  }

  async repository(repo: RepoRef, label: string): Promise<{ defaultBranch: string; htmlUrl: string }> {
    return this.call(label, repo, async () => {
      const { data } = await this.octokit.rest.repos.get({ owner: repo.owner, repo: repo.name });
      return { defaultBranch: data.default_branch, htmlUrl: data.html_url };
    });
  }

  async branchHead(repo: RepoRef, branch: string, label: string): Promise<string> {
    return this.call(label, repo, async () => {
      const { data } = await this.octokit.rest.git.getRef({ owner: repo.owner, repo: repo.name, ref: `heads/${branch}` });
      return data.object.sha;
    });
  }

  /** A file's text and blob sha at a commit. */
  async fileAt(repo: RepoRef, path: string, ref: string, label: string): Promise<{ text: string; sha: string }> {
    return this.call(label, repo, async () => {
      const { data } = await this.octokit.rest.repos.getContent({ owner: repo.owner, repo: repo.name, path, ref });
      if (Array.isArray(data) || data.type !== "file" || !("content" in data))
        throw new GithubError(`${label}: ${path} is not a file in ${repoText(repo)}`);
      return { text: Buffer.from(data.content, "base64").toString("utf8"), sha: data.sha };
    });
  }

  async createBranch(repo: RepoRef, branch: string, sha: string, label: string): Promise<void> {
    await this.call(label, repo, async () => {
      try {
        await this.octokit.rest.git.createRef({ owner: repo.owner, repo: repo.name, ref: `refs/heads/${branch}`, sha });
      } catch (err) {
        if (isHttpFailure(err) && err.status === 422) {
          throw new GithubError(
            `${label}: branch ${branch} already exists in ${repoText(repo)} (an open release pull request?); delete it or merge that one first`,
            422,
          );
        }
        throw err;
      }
    });
  }

  /** Commits a new version of one file on a branch; `sha` is the blob it replaces (a stale one is refused by GitHub). */
  async commitFile(
    repo: RepoRef,
    change: { branch: string; path: string; text: string; sha: string; message: string },
    label: string,
  ): Promise<string> {
    return this.call(label, repo, async () => {
      const { data } = await this.octokit.rest.repos.createOrUpdateFileContents({
        owner: repo.owner,
        repo: repo.name,
        path: change.path,
        branch: change.branch,
        sha: change.sha,
        message: change.message,
        content: Buffer.from(change.text, "utf8").toString("base64"),
      });
      return data.commit.sha ?? "";
    });
  }

  async openPullRequest(
    repo: RepoRef,
    pr: { head: string; base: string; title: string; body: string },
    label: string,
  ): Promise<{ number: number; url: string }> {
    return this.call(label, repo, async () => {
      const { data } = await this.octokit.rest.pulls.create({ owner: repo.owner, repo: repo.name, ...pr });
      return { number: data.number, url: data.html_url };
    });
  }

  /**
   * known_hosts lines for the SSH host the nodes clone from, from the host keys GitHub publishes
   * (GET /meta), so a clone never has to trust a host key on first use.
   */
  async sshKnownHosts(host: string): Promise<string[]> {
    try {
      const { data } = await this.octokit.rest.meta.get();
      return (data.ssh_keys ?? []).map((key) => `${host} ${key}`);
    } catch (err) {
      const why = isHttpFailure(err) ? `${err.status} ${firstLine(err.message)}` : firstLine(String(err));
      throw new GithubError(`ssh host keys of ${host}: GitHub at ${this.baseUrl} did not give them (GET /meta: ${why})`);
    }
  }

  /** Runs one API conversation, turning HTTP failures into one line that names the app. */
  private async call<T>(label: string, repo: RepoRef, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof GithubError) throw err;
      throw new GithubError(describeFailure(err, label, repoText(repo), this.baseUrl), isHttpFailure(err) ? err.status : undefined);
    }
  }
}

function header(err: HttpFailure, name: string): string | undefined {
  const v = err.response?.headers?.[name];
  return v === undefined ? undefined : String(v);
}

function firstLine(s: string): string {
  return s.split("\n")[0].slice(0, 200);
}

/** What went wrong, for people: which app, which repository, what to do. */
export function describeFailure(err: unknown, label: string, repo: string, baseUrl: string): string {
  if (!isHttpFailure(err)) return `${label}: cannot talk to GitHub at ${baseUrl}: ${firstLine(String((err as Error)?.message ?? err))}`;
  const detail = firstLine(err.message);
  if (err.status === 401) return `${label}: GitHub at ${baseUrl} rejected the token (401 ${detail}); set GITHUB_TOKEN to a valid token`;
  const rateLimited = header(err, "x-ratelimit-remaining") === "0" || err.status === 429 || /rate limit/i.test(detail);
  if ((err.status === 403 || err.status === 429) && rateLimited) {
    const reset = Number(header(err, "x-ratelimit-reset"));
    const when = Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString()}` : "";
    return `${label}: GitHub API rate limit exhausted${when} (${repo}); try again later or use a token with a higher limit`;
  }
  if (err.status === 403) return `${label}: GitHub refused access to ${repo} (403 ${detail}); the token needs access to it`;
  if (err.status === 404) return `${label}: repository ${repo} not found at ${baseUrl} (or the token cannot see it)`;
  // Octokit reports a connection that failed before any answer (DNS, refused, reset) as a 500 without a response.
  if (err.status === 500 && !err.response) return `${label}: cannot reach GitHub at ${baseUrl} for ${repo} (${detail}); retried`;
  if (err.status >= 500) return `${label}: GitHub at ${baseUrl} kept failing for ${repo} (${err.status} ${detail}) after retries`;
  return `${label}: GitHub answered ${err.status} for ${repo}: ${detail}`;
}

/** The newest release tag of `repo` ("owner/name"), with a client made from the environment. */
export async function newestReleaseTag(
  repo: string,
  options: { prerelease: boolean; client?: GithubClient; label?: string },
): Promise<string | undefined> {
  return (options.client ?? new GithubClient()).newestReleaseTag(parseRepo(repo), options);
}
