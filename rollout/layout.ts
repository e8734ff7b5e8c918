// The remote layout: every path the fleet uses on its machines, in one place (as Capistrano's
// lib/capistrano/dsl/paths.rb). TypeScript reads it here; `npm run generate` writes it into
// node/rollout/lib-rules.sh for the node scripts; cloud-init and the nginx renderer take it from
// here too.

/** Every machine: the one user the rollout connects as (cloud-init makes it; never root). */
export const DEPLOY_USER = "deploy";
/** App nodes: each app lives in APPS_ROOT/<app> (releases/, venvs/, shared/, current, previous). */
export const APPS_ROOT = "/srv";
/** Every host: the rollout's scripts, once per host and scripts version (SCRIPTS_ROOT/scripts_<version>). */
export const SCRIPTS_ROOT = `${APPS_ROOT}/fleet`;
/** The nginx host: the static files of app X are served from WEB_ROOT/X/static/. */
export const WEB_ROOT = "/var/www";
/** The nginx host: the unprivileged user the nodes publish static files as. Each app's publish key
 *  may only run rrsync, write-only, into that app's static directory (render/publishAccess.ts). */
export const PUBLISH_USER = "fleet-publish";
/** The nginx host: the directory nginx includes, holding the fleet's server blocks. */
export const NGINX_CONF_DIR = "/etc/nginx/conf.d";
/** The nginx host: certificates and private keys (root only). */
export const NGINX_TLS_DIR = "/etc/nginx/fleet-tls";

/** Every app node: the node's own settings (cloud-init writes it from fleet:nodes; KEY=value lines). */
export const NODE_CONFIG_FILE = "/etc/fleet/node.conf";
/** Every app node: the one program the deploy user may run as root (sudo), root-owned, from cloud-init
 *  (node/provision/fleet-node.py; docs/infrastructure.md, "Who runs what"). */
export const NODE_HELPER = "/usr/local/sbin/fleet-node";
/** Every app node: the heavy-work slots (flock files; on /run, so a reboot leaves none held). */
export const HEAVY_SLOTS_DIR = "/run/fleet/heavy-work";
/** Every app node: one line per heavy-work start and end ("<epoch seconds> start|end <slot> <app> <what>"). */
export const HEAVY_WORK_LOG = "/var/log/fleet/heavy-work.log";

/** One app's home on an app node (APPS_ROOT/<app user>), each path relative to it: lib.sh's
 *  app_paths, gunicorn.conf.py (through shared/gunicorn.json, written by prepare.sh) and the
 *  gunicorn@ unit (render/cloudInit.ts) take them from here. */
export const APP_LAYOUT = {
  /** Each staged release: releases/TAG. */
  releases: "releases",
  /** The virtualenvs, by the hash of requirements.txt. */
  venvs: "venvs",
  /** What outlives a release: the environment file, gunicorn's settings, run/ and log/. */
  shared: "shared",
  /** The app's environment (NAME='value' lines, the app's only). */
  env: "shared/env",
  /** gunicorn's pidfile and boot marks. */
  run: "shared/run",
  /** gunicorn's log where there is no journal. */
  log: "shared/log",
  /** The link to the release serving now, and to the one before it. */
  current: "current",
  previous: "previous",
} as const;
/** gunicorn's pidfile and log, in run/ and log/ of APP_LAYOUT. */
export const GUNICORN_PIDFILE = `${APP_LAYOUT.run}/gunicorn.pid`;
export const GUNICORN_LOG = `${APP_LAYOUT.log}/gunicorn.log`;

/** The scripts directory of one scripts version on a host, shared by every app there. The `_` is
 *  in no catalog name: stacks deployed before kept each app's copy in SCRIPTS_ROOT/<app>, which
 *  the upgrade deletes (`rm -rf SCRIPTS_ROOT/<app>`, docs/rollout.md) without reaching this one. */
export function scriptsDir(scriptsVersion: string): string {
  return `${SCRIPTS_ROOT}/scripts_${scriptsVersion}`;
}

/** Where the nginx host keeps one app's static files. */
export function staticDir(webRoot: string, app: string): string {
  return `${webRoot}/${app}/static`;
}

/** What of the layout the node scripts use, as shell variable name -> path. (The nginx host's
 *  conf.d and TLS directory reach publish-nginx-config.sh as arguments: it runs inline, and has
 *  no library to source.) */
export const SHELL_LAYOUT: Record<string, string> = {
  FLEET_ROOT: APPS_ROOT,
  FLEET_WEB_ROOT: WEB_ROOT,
  FLEET_PUBLISH_USER: PUBLISH_USER,
  FLEET_NODE_CONFIG: NODE_CONFIG_FILE,
  FLEET_HEAVY_SLOTS: HEAVY_SLOTS_DIR,
  FLEET_HEAVY_LOG: HEAVY_WORK_LOG,
  FLEET_NODE_HELPER: NODE_HELPER,
  // One app's home, relative paths (APP_LAYOUT).
  ...Object.fromEntries(Object.entries(APP_LAYOUT).map(([k, v]) => [`FLEET_APP_${k.toUpperCase()}`, v])),
  FLEET_APP_PIDFILE: GUNICORN_PIDFILE,
  FLEET_APP_LOG_FILE: GUNICORN_LOG,
};
