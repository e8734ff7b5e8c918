// npm run rehearse -- --repo PATH --catalog FILE [--app NAME] --tags T1,T2,... [--path /] [--nodes 2] [--json]
//
// An app's releases on a local fleet (testbed/rehearsal.ts), before the release pull request.
// Exit 0 when every release ended ok, 1 otherwise (the JSON is printed all the same), 2 on a
// usage error (one line). Everything it started is stopped on exit, Ctrl-C (SIGINT) and SIGTERM too.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { checkTags, Rehearsal, RehearsalCatalog, rehearsalCatalog, RehearsalInputError, releaseLine } from "../testbed/rehearsal";
import { HEALTH_PATH_PATTERN } from "../config/catalog";
import { testBedProblem } from "../testbed/prerequisites";

const USAGE = "usage: npm run rehearse -- --repo PATH --catalog FILE [--app NAME] --tags T1,T2,... [--path /] [--nodes 2] [--json]";
const MAX_NODES = 8;

interface Request {
  repoPath: string;
  catalog: RehearsalCatalog;
  tags: string[];
  path: string;
  nodes: number;
  json: boolean;
}

function usageError(message: string): never {
  process.stderr.write(`rehearse: ${message}\n`);
  process.exit(2);
}

/** The tag names of a git repository, bare or not. */
function tagsOf(repo: string): string[] {
  try {
    return execFileSync("git", ["-c", "safe.directory=*", "-C", repo, "tag", "-l"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      .split("\n")
      .filter(Boolean);
  } catch {
    throw new RehearsalInputError(`--repo: ${repo} is not a git repository`);
  }
}

function readRequest(argv: string[]): Request {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        repo: { type: "string" },
        catalog: { type: "string" },
        app: { type: "string" },
        tags: { type: "string" },
        path: { type: "string", default: "/" },
        nodes: { type: "string", default: "2" },
        json: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    // node's own text goes on about positionals after `--`: the first sentence is the news.
    throw new RehearsalInputError(`${(err as Error).message.split("\n")[0].replace(/\. To specify a positional .*$/, "")}; ${USAGE}`);
  }
  for (const required of ["repo", "catalog", "tags"] as const) {
    if (!values[required]) throw new RehearsalInputError(`--${required} is required; ${USAGE}`);
  }
  const nodes = Number(values.nodes);
  if (!/^\d+$/.test(values.nodes) || nodes < 1 || nodes > MAX_NODES)
    throw new RehearsalInputError(`--nodes: must be a whole number from 1 to ${MAX_NODES} (got ${JSON.stringify(values.nodes)})`);
  if (!HEALTH_PATH_PATTERN.test(values.path))
    throw new RehearsalInputError(
      `--path: ${JSON.stringify(values.path)} is not allowed: a URL path starting with '/' (letters, digits, '.', '_', '~', '/', '-')`,
    );
  const repoPath = values.repo!;
  if (!fs.existsSync(repoPath)) throw new RehearsalInputError(`--repo: ${repoPath} does not exist`);
  let text: string;
  try {
    text = fs.readFileSync(values.catalog!, "utf8");
  } catch (err) {
    throw new RehearsalInputError(`--catalog: ${values.catalog} cannot be read (${(err as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  const catalog = rehearsalCatalog(text, values.catalog!, values.app);
  const tags = values
    .tags!.split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  checkTags(tags, repoPath, tagsOf);
  return { repoPath, catalog, tags, path: values.path, nodes, json: values.json };
}

async function main(): Promise<void> {
  let request: Request;
  try {
    request = readRequest(process.argv.slice(2));
  } catch (err) {
    if (err instanceof RehearsalInputError) usageError(err.message);
    throw err;
  }
  // Root, cgroup2 for systemd nodes, the Debian packages: before anything starts, one line saying what to do.
  const problem = testBedProblem({ appNodeCount: request.nodes });
  if (problem !== undefined) usageError(problem);

  const log = (line: string) => process.stderr.write(`rehearse: ${line}\n`);
  const rehearsal = new Rehearsal({ ...request, log });
  // Ctrl-C, a CI runner's SIGTERM: stop the nodes and remove what they left, then exit as killed.
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the test bed`);
      void rehearsal.stop().finally(() => process.exit(code));
    });
  }
  let report;
  try {
    report = await rehearsal.run();
  } finally {
    await rehearsal.stop();
  }
  if (request.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  else for (const r of report.results) process.stdout.write(`${releaseLine(r)}\n`);
  process.exit(report.results.every((r) => r.ok) ? 0 : 1);
}

main().catch((err: unknown) => {
  // Not a release's failure (those are in the report): the test bed itself could not run.
  process.stderr.write(`rehearse: ${(err as Error).message?.split("\n")[0] ?? String(err)}\n`);
  process.exit(1);
});
