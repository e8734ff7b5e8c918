// npm run check-apps -- [FILE...]   (default: apps.yaml)
//
// Exit 0 when every file is a valid catalog; else exit 1 and one line per problem:
// FILE:LINE:COL: <app>.<field>: <what is wrong and what is allowed>
import { loadCatalogFile } from "../config/catalog";
import { knownStacks } from "../config/stackFiles";

function main(files: string[]): number {
  const stacks = knownStacks();
  let failed = false;
  for (const file of files.length > 0 ? files : ["apps.yaml"]) {
    const { errors } = loadCatalogFile(file, { knownStacks: stacks });
    for (const line of errors) process.stderr.write(`${line}\n`);
    failed ||= errors.length > 0;
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`check-apps: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
