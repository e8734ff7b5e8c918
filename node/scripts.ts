// The scripts that run on the machines, as files: the one module that reads node/ from disk, so the
// renderers (render/) and plans (rollout/) stay pure and take the text they work on.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** node/rollout: copied to every host, per scripts version. node/provision: the infrastructure's
 *  (run inline, or written by cloud-init). */
export const NODE_DIR = __dirname;
export const ROLLOUT_SCRIPTS_DIR = path.join(NODE_DIR, "rollout");
export const PROVISION_SCRIPTS_DIR = path.join(NODE_DIR, "provision");
/** What `npm run status` runs on every host, read-only, sent on stdin. */
export const STATUS_SCRIPT = path.join(NODE_DIR, "status", "fleet_status.py");

/** A provisioning script (or unit, or helper) by its file name, with its text. */
export interface ProvisionFile {
  name: string;
  text: string;
}

export function provisionFile(name: string): ProvisionFile {
  return { name, text: fs.readFileSync(path.join(PROVISION_SCRIPTS_DIR, name), "utf8") };
}

/** The files the rollout copies to every host: all of node/rollout (and nothing of node/provision,
 *  whose changes must not re-run every app's steps). */
export function rolloutFiles(dir: string = ROLLOUT_SCRIPTS_DIR): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

/** A hash of the rollout's files: a changed script is a new scripts directory on the hosts. */
export function scriptsVersion(dir: string = ROLLOUT_SCRIPTS_DIR): string {
  const hash = createHash("sha256");
  for (const file of rolloutFiles(dir)) {
    hash
      .update(file)
      .update("\0")
      .update(fs.readFileSync(path.join(dir, file)))
      .update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

/** What an app node's user data carries of node/provision (render/cloudInit.ts renders it). */
export function appNodeSources(): { gunicornUnit: string; nodeHelper: string; logShipper: string } {
  return {
    gunicornUnit: provisionFile("gunicorn@.service").text,
    nodeHelper: provisionFile("fleet-node.py").text,
    logShipper: provisionFile("fleet-logship.py").text,
  };
}

/** node/status/fleet_status.py's text (rollout/fleetStatus.ts readFleet sends it). */
export function statusScript(): string {
  return fs.readFileSync(STATUS_SCRIPT, "utf8");
}
