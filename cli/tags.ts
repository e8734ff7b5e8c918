// npm run tags -- [--stack S] [--pin] [--apps FILE] [--json]
//
// Every app's pinned tag beside the newest release tag on GitHub, for every stack (or one).
// --pin writes the newest tags into apps.yaml, changing those values alone (comments and
// formatting kept). Exit 1 when GitHub failed for some app (the others are still listed).
//
// Environment: GITHUB_TOKEN, GITHUB_API_URL (as for npm run release).
import * as fs from "fs";
import { parseArgs } from "util";
import { loadCatalogFile } from "../config/catalog";
import { CatalogEditError, changedLines, renderDiff, setTags } from "../github/catalogEdit";
import { GithubClient } from "../github/api";
import { pinEdits, renderRows, StackRule, tagRows } from "../github/tagsReport";
import { checkStackFile, knownStacks } from "../config/stackFiles";

const USAGE = "usage: npm run tags -- [--stack S] [--pin] [--apps FILE] [--json]";

class ToolError extends Error {}

/** Whether `latest` may be a pre-release on the stack, from its fleet:github config (the stack file checked whole). */
function stackRule(stack: string): StackRule {
  const { settings, errors } = checkStackFile(stack);
  if (!settings) throw new ToolError(errors.join("\n"));
  return { stack, prerelease: settings.github.prereleases };
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        stack: { type: "string" },
        pin: { type: "boolean", default: false },
        apps: { type: "string", default: "apps.yaml" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    throw new ToolError(`tags: ${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const stacks = knownStacks();
  if (values.stack !== undefined && !stacks.includes(values.stack))
    throw new ToolError(`tags: unknown stack "${values.stack}"; stacks: ${stacks.join(", ")}`);
  const { catalog, errors } = loadCatalogFile(values.apps, { knownStacks: stacks });
  if (!catalog) throw new ToolError(errors.join("\n"));

  const rows = await tagRows(catalog, (values.stack ? [values.stack] : stacks).map(stackRule), new GithubClient());
  process.stdout.write(`${values.json ? JSON.stringify(rows, null, 2) : renderRows(rows)}\n`);
  const failed = rows.some((r) => r.status === "error");
  if (values.pin) pin(values.apps, rows, values.json);
  return failed ? 1 : 0;
}

function pin(file: string, rows: Parameters<typeof pinEdits>[0], quiet: boolean): void {
  const edits = pinEdits(rows);
  if (edits.length === 0) {
    if (!quiet) process.stdout.write(`nothing to pin: ${file} already has the newest tags\n`);
    return;
  }
  const before = fs.readFileSync(file, "utf8");
  const after = setTags(before, file, edits);
  fs.writeFileSync(file, after);
  if (!quiet) process.stdout.write(`${renderDiff(file, changedLines(before, after))}\npinned ${edits.length} tag(s) in ${file}\n`);
}

main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((err: unknown) => {
    const known = err instanceof ToolError || err instanceof CatalogEditError;
    process.stderr.write(`${known ? (err as Error).message : `tags: ${(err as Error)?.message ?? String(err)}`}\n`);
    process.exitCode = 1;
  });
