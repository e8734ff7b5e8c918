import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Cluster } from "./cluster";

/** Pushes tag NAME to the fixture repository (or `repo`, a copy of it the cluster serves): BASE's
 *  tree changed by the shell EDIT, its code saying NAME. */
export function pushTag(cluster: Cluster, base: string, name: string, edit: string, repo?: string): void {
  const clone = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-fixture-"));
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "e2e",
    GIT_AUTHOR_EMAIL: "e2e@example.invalid",
    GIT_COMMITTER_NAME: "e2e",
    GIT_COMMITTER_EMAIL: "e2e@example.invalid",
  };
  try {
    execFileSync(
      "sh",
      [
        "-c",
        `git clone -q ${repo ?? cluster.fixtureRepoPath} . && git checkout -q ${base} && ${edit} && sed -i 's/"${base}"/"${name}"/' polls/code_version.py && git commit -qam '${name}' && git tag ${name} && git push -q origin ${name}`,
      ],
      { cwd: clone, env },
    );
  } finally {
    fs.rmSync(clone, { recursive: true, force: true });
  }
}

/** Pushes tag NAME: BASE with changed requirements, so its release gets a new virtualenv. */
export function pushNewVenvTag(cluster: Cluster, base: string, name: string): void {
  pushTag(cluster, base, name, "echo '# pinned by the e2e test' >> requirements.txt");
}

/** How long pushSlowImportTag's app takes to import: longer than a Load's request timeout (10 s),
 *  so a reload whose requests wait for the import (HUP) fails them. */
export const SLOW_IMPORT_SECONDS = 12;

/** Pushes tag NAME: BASE whose WSGI module takes SLOW_IMPORT_SECONDS to import (same virtualenv). */
export function pushSlowImportTag(cluster: Cluster, base: string, name: string): void {
  pushTag(cluster, base, name, `printf 'import time\\ntime.sleep(${SLOW_IMPORT_SECONDS})\\n' >> pollsite/wsgi.py`);
}

/**
 * Pushes tag NAME: BASE whose WSGI module raises RuntimeError on import, in the way that trips
 * gunicorn 20.1 up: one worker of a master fails at once, the others a second later, while that
 * master halts. Their failure then escapes its halt() and it dies without removing its pidfile
 * (PIDFILE.2 for a re-exec'd master), which the next reload, the put-back, must not take for its
 * own new master (lib-gunicorn.sh: _new_master).
 */
export function pushBrokenTag(cluster: Cluster, base: string, name: string): void {
  const lines = [
    "import os, time",
    "try:",
    '    os.close(os.open("/tmp/fleet-e2e-broken-%d" % os.getppid(), os.O_CREAT | os.O_EXCL | os.O_WRONLY))',
    "except FileExistsError:",
    "    time.sleep(1)",
    "raise RuntimeError",
  ];
  pushTag(cluster, base, name, `printf '%s\\n' ${lines.map((l) => `'${l}'`).join(" ")} >> pollsite/wsgi.py`);
}
