// npm run check-apps -- [FILE...]   (default: apps.yaml)
//
// Exit 0 when every file is a valid catalog and every stack file (Pulumi.<stack>.yaml) is valid
// against its catalog; else exit 1 and one line per problem:
// FILE:LINE:COL: <app>.<field>: <what is wrong and what is allowed>
// FILE:LINE:COL: fleet:<key>: <what is wrong; what is allowed>
// Warnings (legal but dangerous stack settings) are printed as `warning: ...` and do not fail.
import * as path from "path";
import { loadCatalogFile } from "../config/catalog";
import { checkStackFile, knownStacks, projectDir } from "../config/stackFiles";

/** A file named like a stack file is checked as one (its stack from its name). */
const STACK_FILE = /^Pulumi\.([a-z][a-z0-9-]*)\.yaml$/;

function main(files: string[]): number {
  const stacks = knownStacks();
  let failed = false;
  const report = (errors: string[], warnings: string[] = []) => {
    for (const line of errors) process.stderr.write(`${line}\n`);
    for (const line of warnings) process.stderr.write(`warning: ${line}\n`);
    failed ||= errors.length > 0;
  };
  const given = files.length > 0 ? files : ["apps.yaml"];
  for (const file of given.filter((f) => !STACK_FILE.test(path.basename(f)))) report(loadCatalogFile(file, { knownStacks: stacks }).errors);
  // The project's stack files always (a stack file is only right against a catalog), and any other named.
  for (const stack of stacks) {
    const { errors, warnings } = checkStackFile(stack);
    report(errors, warnings);
  }
  for (const file of given.filter((f) => STACK_FILE.test(path.basename(f)) && path.dirname(path.resolve(f)) !== projectDir())) {
    const { errors, warnings } = checkStackFile(STACK_FILE.exec(path.basename(file))![1], { file });
    report(errors, warnings);
  }
  return failed ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`check-apps: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
