// Who may publish static files to the nginx host, and where: the files the nginx host's access
// step (publish-nginx-config.sh access) installs for the publish user (rollout/layout.ts
// PUBLISH_USER). Pure.
//
// Each app has a key of its own (components/infra/edgeHost.ts); the first node gets its private half on
// stdin for the publish step only. On the nginx host its authorized_keys line lets it do one
// thing: rrsync, write-only, into that app's static directory, from an app node's address
// (no shell, no forwarding, no pty, no deletes, symlinks munged so nginx never follows one
// out of the directory). A node taken over can then at worst write that app's static files:
// it holds no key that logs in anywhere.
import { appIdentity, OS_USER_PATTERN } from "../config/identity";
import { NAME_PATTERN } from "../config/catalog";
import { staticDir, WEB_ROOT } from "../rollout/layout";
import { renderPublishInput } from "./nginx";

/** The restricted rsync server on the nginx host (Debian's and Ubuntu's rsync package ship it). */
export const RRSYNC = "/usr/bin/rrsync";
/** authorized_keys of the publish user: one restricted line per app. */
export const PUBLISH_KEYS_FILE = "fleet-publish-keys";
/** The apps' OS users whose static directories the nginx host keeps (one per line); a user that
 *  left this list has its directory removed. */
export const WEB_ROOTS_FILE = "fleet-web-roots";

export interface PublishingApp {
  name: string;
  /** The public half of the app's publish key, one OpenSSH line. */
  publicKey: string;
}

const PUBLIC_KEY = /^ssh-ed25519 [A-Za-z0-9+/]+={0,2}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** The forced command of an app's publish key: rrsync into `dir` only (with deletes: static.sh prunes). */
export function publishCommandOf(dir: string): string {
  return `${RRSYNC} -wo -munge ${dir}`;
}

/** The two files, by name, in app-name order (an unchanged catalog gives identical text). */
export function renderPublishAccess(apps: PublishingApp[], nodeIps: string[], staticRoot: string = WEB_ROOT): Record<string, string> {
  for (const ip of nodeIps)
    if (!IPV4.test(ip)) throw new Error(`publish access: node address ${JSON.stringify(ip)} is not an IPv4 address`);
  if (apps.length > 0 && nodeIps.length === 0) throw new Error("publish access: no app nodes to accept publish keys from");
  const from = [...nodeIps].sort().join(",");
  const sorted = [...apps].sort((a, b) => a.name.localeCompare(b.name));
  const keys: string[] = [];
  const users: string[] = [];
  for (const app of sorted) {
    if (!NAME_PATTERN.test(app.name)) throw new Error(`publish access: app name ${JSON.stringify(app.name)} must match ${NAME_PATTERN}`);
    // tls.PrivateKey's line has no comment; the app's name becomes it.
    const key = app.publicKey.trim().split(/\s+/).slice(0, 2).join(" ");
    if (!PUBLIC_KEY.test(key)) throw new Error(`publish access: ${app.name}: the publish key must be one ssh-ed25519 public key`);
    const user = appIdentity(app.name).osUser;
    if (!OS_USER_PATTERN.test(user)) throw new Error(`publish access: ${app.name}: derived user ${user} is not an app user`);
    const options = [`restrict`, `from="${from}"`, `command="${publishCommandOf(staticDir(staticRoot, user))}"`];
    keys.push(`${options.join(",")} ${key} fleet-publish ${app.name}\n`);
    users.push(`${user}\n`);
  }
  return { [PUBLISH_KEYS_FILE]: keys.join(""), [WEB_ROOTS_FILE]: users.join("") };
}

/** The access step's stdin: both files, framed as publish-nginx-config.sh reads them. */
export function renderAccess(apps: PublishingApp[], nodeIps: string[], staticRoot: string = WEB_ROOT): string {
  return renderPublishInput(renderPublishAccess(apps, nodeIps, staticRoot));
}
