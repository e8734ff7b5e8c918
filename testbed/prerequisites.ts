// What the test bed needs of this machine, asked before anything starts (`npm run rehearse`), so a
// fresh machine gets one line with the cause and the command that fixes it, not a node's exit code.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { ClusterOptions, hasCgroup2, nodeInitOf } from "./cluster";

/** The one script that knows (and installs) the Debian packages the test bed uses. */
const INSTALL_SCRIPT = path.join(__dirname, "..", ".ci", "install-debian-packages.sh");
/** What a user runs to install them, from the repository's top. */
export const INSTALL_COMMAND = "sudo bash .ci/install-debian-packages.sh";

/** The packages (the script's own list, or `packages`) that dpkg does not have installed. */
export function missingDebianPackages(packages: string[] = []): string[] {
  const r = spawnSync("sh", [INSTALL_SCRIPT, "--check", ...packages], { encoding: "utf8" });
  if (r.status === 0) return [];
  const line = /^missing Debian packages: (.+)$/m.exec(r.stdout ?? "");
  if (!line) throw new Error(`${INSTALL_SCRIPT} --check failed: ${(r.stderr || r.stdout || String(r.error)).trim().split("\n").pop()}`);
  return line[1].trim().split(/\s+/);
}

/** Why the test bed cannot start on this machine (one line: the cause and the fix), or undefined. */
export function testBedProblem(opts: ClusterOptions, isRoot: boolean = process.getuid?.() === 0): string | undefined {
  if (!isRoot) return "needs root: it starts local nodes (namespaces, sshd, nginx, PostgreSQL) as the e2e tests do; run it with sudo";
  if (nodeInitOf(opts) === "systemd" && !hasCgroup2()) {
    return "systemd nodes need a cgroup2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified) and this machine mounts none: boot with systemd.unified_cgroup_hierarchy=1, or use plain nodes (FLEET_E2E_INIT=plain)";
  }
  const missing = missingDebianPackages();
  if (missing.length > 0) return `missing Debian packages the test bed needs: ${missing.join(" ")}; install them with: ${INSTALL_COMMAND}`;
  return undefined;
}
