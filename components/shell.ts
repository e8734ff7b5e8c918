// Turning node-side scripts (components/scripts/*.sh) into remote command lines. Pure.
import * as fs from "fs";
import * as path from "path";

export const SCRIPTS_DIR = path.join(__dirname, "scripts");

/** POSIX single-quoting: the value reaches the remote shell as one literal word. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * `sh -c '<script body>' <name> <args...>`: runs the real script file under POSIX sh on the
 * remote side whatever the login shell is, without copying a file first. Arguments are quoted;
 * they must never carry secrets (command lines show up in `ps` and in the plan).
 */
export function scriptCommand(script: string, args: string[] = []): string {
    const body = fs.readFileSync(path.join(SCRIPTS_DIR, script), "utf8");
    return ["sh", "-c", shellQuote(body), shellQuote(script), ...args.map(shellQuote)].join(" ");
}
