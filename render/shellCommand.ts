// Where the scripts that run on the machines live (node/), and turning one into a remote command
// line. Pure.
import * as fs from "fs";
import * as path from "path";

/** Scripts that run on the machines: node/rollout (copied to every host, per scripts version) and
 *  node/provision (the infrastructure's: run inline, or written by cloud-init). */
export const NODE_DIR = path.resolve(__dirname, "..", "node");
export const ROLLOUT_SCRIPTS_DIR = path.join(NODE_DIR, "rollout");
export const PROVISION_SCRIPTS_DIR = path.join(NODE_DIR, "provision");

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
export function provisionCommand(script: string, args: string[] = []): string {
    const body = fs.readFileSync(path.join(PROVISION_SCRIPTS_DIR, script), "utf8");
    return ["sh", "-c", shellQuote(body), shellQuote(script), ...args.map(shellQuote)].join(" ");
}
