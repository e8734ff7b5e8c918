// A local stand-in for GitHub's REST API, over real HTTP on 127.0.0.1, answering the endpoints
// the fleet uses with the payload shapes, status codes and headers GitHub documents
// (docs.github.com/rest): Link pagination, 401 "Bad credentials", 404 "Not Found", 403 with
// x-ratelimit-remaining: 0 and x-ratelimit-reset, 422 "Reference already exists".
// Faults can be queued per route to test retries. It keeps a tiny git model (branches ->
// commits -> files) so the release pull request can be read back and checked.
import { createHash } from "crypto";
import * as http from "http";
import type { AddressInfo } from "net";

export interface FakeRepo {
  defaultBranch?: string;
  tags?: string[];
  /** Files on the default branch. */
  files?: Record<string, string>;
  /** Extra branches, cut from the default branch. */
  branches?: string[];
}

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  authorization?: string;
}

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

interface Commit {
  sha: string;
  files: Record<string, string>;
}

interface RepoState {
  defaultBranch: string;
  tags: string[];
  branches: Map<string, string>;
  commits: Map<string, Commit>;
  pulls: { number: number; title: string; body: string; head: string; base: string }[];
}

const DOCS = "https://docs.github.com/rest";

/** GET /meta as GitHub documents it (the parts the fleet reads; keys made up for the test). */
export const META = {
  verifiable_password_authentication: false,
  ssh_key_fingerprints: { SHA256_ED25519: "test-fingerprint" },
  ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITESTKEYONLY", "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAITESTKEYONLY"],
  hooks: ["192.0.2.0/24"],
  git: ["192.0.2.0/24"],
};

export function blobSha(text: string): string {
  const data = Buffer.from(text, "utf8");
  return createHash("sha1")
    .update(Buffer.concat([Buffer.from(`blob ${data.length}\0`), data]))
    .digest("hex");
}

/** GitHub sends file content as base64 wrapped at 60 characters. */
function wrapBase64(text: string): string {
  return (
    (
      Buffer.from(text, "utf8")
        .toString("base64")
        .match(/.{1,60}/g) ?? []
    ).join("\n") + "\n"
  );
}

/** GitHub's documented rate-limit answer (primary limit, reset one second from now). */
export function rateLimitFault(resetInSeconds = 1): Fault {
  const reset = Math.floor(Date.now() / 1000) + resetInSeconds;
  return {
    status: 403,
    headers: {
      "x-ratelimit-limit": "60",
      "x-ratelimit-remaining": "0",
      "x-ratelimit-used": "60",
      "x-ratelimit-reset": String(reset),
      "x-ratelimit-resource": "core",
    },
    body: {
      message: "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit.)",
      documentation_url: `${DOCS}/overview/resources-in-the-rest-api#rate-limiting`,
    },
  };
}

export class FakeGithub {
  readonly requests: Recorded[] = [];
  readonly repos = new Map<string, RepoState>();
  private readonly faults = new Map<string, Fault[]>();
  private server?: http.Server;
  private commitCounter = 0;
  baseUrl = "";

  /** `prefix` "/api/v3" serves the API where GitHub Enterprise Server does. */
  constructor(
    readonly token: string,
    private readonly prefix = "",
  ) {}

  addRepo(fullName: string, repo: FakeRepo = {}): void {
    const defaultBranch = repo.defaultBranch ?? "main";
    const root = this.commit({ ...(repo.files ?? {}) });
    const branches = new Map([[defaultBranch, root.sha]]);
    for (const b of repo.branches ?? []) branches.set(b, root.sha);
    this.repos.set(fullName, { defaultBranch, tags: [...(repo.tags ?? [])], branches, commits: new Map([[root.sha, root]]), pulls: [] });
  }

  /** Answers the next requests matching "METHOD /path" with these faults, in order. */
  failNext(route: string, ...faults: Fault[]): void {
    this.faults.set(route, [...(this.faults.get(route) ?? []), ...faults]);
  }

  countOf(method: string, path: string): number {
    return this.requests.filter((r) => r.method === method && r.path === path).length;
  }

  /** The text of a file at the tip of a branch. */
  fileOn(fullName: string, branch: string, path: string): string | undefined {
    const repo = this.repos.get(fullName);
    const sha = repo?.branches.get(branch);
    return sha ? repo?.commits.get(sha)?.files[path] : undefined;
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, Buffer.concat(chunks).toString("utf8"), res));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}${this.prefix}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private commit(files: Record<string, string>): Commit {
    this.commitCounter += 1;
    const sha = createHash("sha1")
      .update(`commit ${this.commitCounter} ${JSON.stringify(files)}`)
      .digest("hex");
    return { sha, files };
  }

  private handle(req: http.IncomingMessage, raw: string, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    // Octokit sends "tags/v1.2.3" in a ref as tags%2Fv1.2.3; GitHub decodes it, so do we.
    const pathname = decodeURIComponent(url.pathname);
    const path = pathname.startsWith(this.prefix) ? pathname.slice(this.prefix.length) : pathname;
    const body = raw ? (JSON.parse(raw) as unknown) : undefined;
    const method = req.method ?? "GET";
    this.requests.push({ method, path, query: url.searchParams, body, authorization: req.headers.authorization });

    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "x-github-media-type": "github.v3; format=json",
        ...headers,
      });
      res.end(payload === undefined ? "" : JSON.stringify(payload));
    };
    const fault = this.faults.get(`${method} ${path}`)?.shift();
    if (fault)
      return send(fault.status, fault.body ?? { message: http.STATUS_CODES[fault.status], documentation_url: DOCS }, fault.headers);
    const auth = req.headers.authorization ?? "";
    if (auth.replace(/^(token|bearer) /i, "") !== this.token)
      return send(401, { message: "Bad credentials", documentation_url: DOCS, status: "401" });
    try {
      const [status, payload, headers] = this.route(method, path, url, body);
      send(status, payload, headers);
    } catch (err) {
      send(500, { message: (err as Error).message });
    }
  }

  private route(method: string, path: string, url: URL, body: unknown): [number, unknown, Record<string, string>?] {
    const notFound: [number, unknown] = [404, { message: "Not Found", documentation_url: DOCS, status: "404" }];
    if (method === "GET" && path === "/meta") return [200, META];
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return notFound;
    const full = `${m[1]}/${m[2]}`;
    const repo = this.repos.get(full);
    if (!repo) return notFound;
    const rest = m[3] ?? "";
    const html = `https://github.example.test/${full}`;
    const input = (body ?? {}) as Record<string, string>;

    if (method === "GET" && rest === "")
      return [
        200,
        {
          id: 1,
          node_id: "R_1",
          name: m[2],
          full_name: full,
          private: true,
          default_branch: repo.defaultBranch,
          html_url: html,
          url: `${this.baseUrl}/repos/${full}`,
        },
      ];
    if (method === "GET" && rest === "/tags") return this.tagPage(full, repo, url);
    const ref = /^\/git\/ref\/(tags|heads)\/(.+)$/.exec(rest);
    if (method === "GET" && ref) {
      const sha = ref[1] === "tags" ? (repo.tags.includes(ref[2]) ? blobSha(`tag ${ref[2]}`) : undefined) : repo.branches.get(ref[2]);
      if (!sha) return notFound;
      return [
        200,
        {
          ref: `refs/${ref[1]}/${ref[2]}`,
          node_id: "REF_1",
          url: `${this.baseUrl}/repos/${full}/git/refs/${ref[1]}/${ref[2]}`,
          object: { type: "commit", sha, url: `${this.baseUrl}/repos/${full}/git/commits/${sha}` },
        },
      ];
    }
    const contents = /^\/contents\/(.+)$/.exec(rest);
    if (method === "GET" && contents) {
      const at = url.searchParams.get("ref") ?? repo.defaultBranch;
      const text = repo.commits.get(repo.branches.get(at) ?? at)?.files[contents[1]];
      if (text === undefined) return notFound;
      const name = contents[1].split("/").pop();
      return [
        200,
        {
          type: "file",
          encoding: "base64",
          size: Buffer.byteLength(text),
          name,
          path: contents[1],
          content: wrapBase64(text),
          sha: blobSha(text),
          html_url: `${html}/blob/${at}/${contents[1]}`,
        },
      ];
    }
    if (method === "POST" && rest === "/git/refs") {
      const branch = input.ref.replace(/^refs\/heads\//, "");
      if (repo.branches.has(branch))
        return [422, { message: "Reference already exists", documentation_url: `${DOCS}/git/refs#create-a-reference`, status: "422" }];
      if (!repo.commits.has(input.sha)) return [422, { message: "Object does not exist", documentation_url: DOCS, status: "422" }];
      repo.branches.set(branch, input.sha);
      return [
        201,
        {
          ref: input.ref,
          node_id: "REF_2",
          url: `${this.baseUrl}/repos/${full}/git/${input.ref}`,
          object: { type: "commit", sha: input.sha },
        },
      ];
    }
    if (method === "PUT" && contents) return this.putFile(full, repo, contents[1], input);
    if (method === "POST" && rest === "/pulls") {
      if (!repo.branches.has(input.head) || !repo.branches.has(input.base))
        return [
          422,
          { message: "Validation Failed", errors: [{ resource: "PullRequest", field: "head", code: "invalid" }], documentation_url: DOCS },
        ];
      const number = repo.pulls.length + 1;
      repo.pulls.push({ number, title: input.title, body: input.body, head: input.head, base: input.base });
      return [
        201,
        {
          id: 100 + number,
          number,
          state: "open",
          title: input.title,
          body: input.body,
          html_url: `${html}/pull/${number}`,
          head: { ref: input.head },
          base: { ref: input.base },
        },
      ];
    }
    return notFound;
  }

  /** GET /repos/{o}/{r}/tags: per_page (default 30, max 100) and page, with a Link header. */
  private tagPage(full: string, repo: RepoState, url: URL): [number, unknown, Record<string, string>] {
    const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), 100);
    const page = Number(url.searchParams.get("page") ?? 1);
    const last = Math.max(1, Math.ceil(repo.tags.length / perPage));
    const items = repo.tags.slice((page - 1) * perPage, page * perPage).map((name) => {
      const sha = blobSha(`tag ${name}`);
      return {
        name,
        zipball_url: `${this.baseUrl}/repos/${full}/zipball/${name}`,
        tarball_url: `${this.baseUrl}/repos/${full}/tarball/${name}`,
        commit: { sha, url: `${this.baseUrl}/repos/${full}/commits/${sha}` },
        node_id: `REF_${name}`,
      };
    });
    const link = (p: number, rel: string) => `<${this.baseUrl}/repos/${full}/tags?per_page=${perPage}&page=${p}>; rel="${rel}"`;
    const rels = [
      page < last ? link(page + 1, "next") : "",
      page < last ? link(last, "last") : "",
      page > 1 ? link(1, "first") : "",
      page > 1 ? link(page - 1, "prev") : "",
    ].filter(Boolean);
    return [200, items, rels.length > 0 ? { link: rels.join(", ") } : {}];
  }

  /** PUT /repos/{o}/{r}/contents/{path}: the blob sha must be the current one (else 409, as GitHub). */
  private putFile(full: string, repo: RepoState, path: string, input: Record<string, string>): [number, unknown] {
    const branch = input.branch ?? repo.defaultBranch;
    const tip = repo.commits.get(repo.branches.get(branch) ?? "");
    if (!tip) return [404, { message: "Branch not found", documentation_url: DOCS }];
    const current = tip.files[path];
    if (current !== undefined && input.sha !== blobSha(current))
      return [409, { message: `${path} does not match ${input.sha}`, documentation_url: DOCS, status: "409" }];
    const text = Buffer.from(input.content, "base64").toString("utf8");
    const next = this.commit({ ...tip.files, [path]: text });
    repo.commits.set(next.sha, next);
    repo.branches.set(branch, next.sha);
    return [
      current === undefined ? 201 : 200,
      {
        content: { name: path.split("/").pop(), path, sha: blobSha(text), type: "file" },
        commit: { sha: next.sha, message: input.message, html_url: `https://github.example.test/${full}/commit/${next.sha}` },
      },
    ];
  }
}
