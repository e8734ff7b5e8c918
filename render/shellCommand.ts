// Turning a script that runs on the machines into a remote command line. Pure: the script's text
// comes from node/scripts.ts.
import type { ProvisionFile } from "../node/scripts";

/** A word for sh: bare when it holds only characters no shell treats specially, else POSIX
 *  single-quoted; either way it reaches the remote shell as one literal word. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * `sh -c '<script body>' <name> <args...>`: runs the real script file under POSIX sh on the
 * remote side whatever the login shell is, without copying a file first. Arguments are quoted;
 * they must never carry secrets (command lines show up in `ps` and in the plan).
 */
export function provisionCommand(script: ProvisionFile, args: string[] = []): string {
  return ["sh", "-c", shellQuote(script.text), shellQuote(script.name), ...args.map(shellQuote)].join(" ");
}
