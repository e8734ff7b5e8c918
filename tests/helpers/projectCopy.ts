// A copy of the project with some files replaced, for commands that take FLEET_PROJECT_DIR (plan,
// check-apps): index.ts is copied (its __dirname is the project), everything else is a symlink.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "../..");

/** The copy's directory; `files` maps a top-level file name to its text. Remove it with fs.rmSync. */
export function projectCopy(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-project-"));
  fs.copyFileSync(path.join(ROOT, "index.ts"), path.join(dir, "index.ts"));
  for (const entry of fs.readdirSync(ROOT).filter((e) => !e.startsWith(".") && e !== "index.ts" && !(e in files)))
    fs.symlinkSync(path.join(ROOT, entry), path.join(dir, entry));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}
