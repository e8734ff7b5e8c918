// The rollout of one app release as plain data: which step runs where, after what, with which
// script and arguments, and what reaches it on stdin. Pure on purpose (no Pulumi): the
// AppDeployment component only maps these steps onto @pulumi/command resources, and the
// order, the arguments and the rollback policy are tested here without any runtime.
//
// Policy encoded in the steps (DESIGN.md, "Rollout of one app release"):
//  - stage on every node in parallel; nothing serves from a staged release yet;
//  - static once (from the first node) after every node staged; migrate "expand" once, after
//    that: a failed stage or a failed or refused migration stops the rollout before any switch;
//  - switch one node at a time, each after the previous one: switch.sh puts a node back on
//    its old release when the health check fails and fails the step, so no further node moves;
//    a node enters the app's nginx upstream only after its switch succeeded (servesAfter);
//  - every step on a node waits for that node's install, and contract for every switch, not only
//    through the chain: a node added or replaced runs its own steps while the others' stay done;
//  - migrate "contract" once every node serves the release: a rollback's newer migrations
//    are unapplied only when no node runs the newer code any more (zero failed requests);
//  - prune to keepReleases on each node right after its switch (current and previous are always kept).
// Every input is a pure function of the catalog, the node names and addresses and the
// scripts' version: an unchanged app yields identical commands, so `pulumi up` runs nothing.
import { STATIC_HOST_NAME } from "./topology";
import type { AppForStack, OverrideName, Overrides } from "../config/catalog";
import { ENV_NAME_PATTERN, LATEST, NAME_PATTERN, OVERRIDE_NAMES } from "../config/catalog";
import { GIT_ACCESS_MARKER } from "../config/patterns";
import type { DbEngine, DeploySettings } from "../config/deployConfig";
import { appIdentity } from "../config/identity";
import { STATIC_URL } from "../render/nginx";
import { provisionCommand, shellQuote } from "../render/shellCommand";
import type { ProvisionFile } from "../node/scripts";
import { NODE_HELPER, scriptsDir, SCRIPTS_ROOT } from "./layout";
import { processesInvocation, processesRemoval } from "./processes";

// The rollout's settings and their defaults are config's (config/deployConfig.ts): resolved once
// there, taken here as they are.
export type { DbEngine, DeploySettings, PipMode } from "../config/deployConfig";

/** The host name steps use for the nginx host (host 1). */
export const STATIC_HOST = STATIC_HOST_NAME;
/** Placeholders the component resolves from Outputs: the database endpoint, the SSH user and port of the first node (static.sh pulls from it). */
export const DATABASE = "@database";
export const DATABASE_PORT = "@database-port";
export const SSH_USER = "@node-ssh-user";
export const SSH_PORT = "@node-ssh-port";

/** An argument: a literal, or the address of a host (known to Pulumi only as an Output). */
export type Arg = string | { addressOf: string };

export interface Invocation {
  script: string;
  args: Arg[];
}

/** What a step reads on stdin; the component supplies it as a Pulumi secret. "install": the
 *  environment file, then GIT_ACCESS_MARKER, then the git access (installStdin); "publishKey":
 *  the app's publish key, which may only write its static files on the nginx hosts. */
export type StdinKind = "install" | "database" | "publishKey";

export type Phase = "install" | "database" | "static" | "expand" | "switch" | "contract";

export interface Step {
  /** Unique in the stack: "<app>-<what>[-<host>]". */
  name: string;
  phase: Phase;
  /** A node name, or STATIC_HOST. */
  host: string;
  /** The hosts whose replacement runs the step again, when not `host`: where its effect lives. */
  rerunWith?: string[];
  /** The commands run on create (and on any change of inputs: no separate update), in order,
   *  each only after the one before it succeeded. */
  run?: Invocation[];
  /** The command run when the step is deleted (the app left the stack). */
  remove?: Invocation;
  stdin?: StdinKind;
  /** Names of the steps that must succeed first. */
  dependsOn: string[];
  /** Names this step had in stacks deployed before it was merged from them (Pulumi aliases): the
   *  step takes over their state, so their delete commands (the app's user and home, its static
   *  files) never run on the upgrade. */
  formerNames?: string[];
}

export interface RolloutPlan {
  app: string;
  tag: string;
  /** The directory the scripts are copied to on every host (once per host: HostScripts). */
  scriptsDir: string;
  steps: Step[];
  /** The step whose stdout ("TAG COMMIT") says what serves once the rollout is complete. */
  servingStep: string;
  /** Per node: the step after whose success the app serves there (its switch: switch.sh exits 0
   *  only once the node answers the health check). Only then may nginx send the node traffic. */
  servesAfter: Record<string, string>;
}

export class RolloutError extends Error {}

/**
 * The ordered steps of one app's rollout on `nodes` (app nodes, in switch order): per node one
 * install (prepare + stage) and one switch (switch + prune), per app database, static, expand and
 * contract. The scripts are on every host before any of these runs (HostScripts, one per host).
 */
export function rolloutPlan(
  app: AppForStack,
  nodes: string[],
  scriptsVersion: string,
  settings: DeploySettings,
  edges: string[] = [STATIC_HOST],
): RolloutPlan {
  checkInputs(app, nodes, scriptsVersion, edges);
  const a = app.name;
  // The scripts get the app's derived OS user (their paths follow from it), never the catalog name.
  const id = appIdentity(a);
  const user = id.osUser;
  const name = (what: string, host?: string) => (host ? `${a}-${what}-${host}` : `${a}-${what}`);
  const first = nodes[0];
  const steps: Step[] = [];
  const add = (s: Step) => steps.push(s);

  add({
    name: name("database"),
    phase: "database",
    host: first,
    stdin: "database",
    dependsOn: [],
    run: [{ script: "database.sh", args: [settings.dbEngine, id.database, { addressOf: DATABASE }, { addressOf: DATABASE_PORT }] }],
  });
  for (const node of nodes) {
    // prepare.sh then stage.sh, one stdin for both: a changed environment alone reruns this step,
    // whose stage part returns at once for a release already staged.
    add({
      name: name("install", node),
      phase: "install",
      host: node,
      stdin: "install",
      dependsOn: [],
      formerNames: [name("prepare", node)],
      run: [
        {
          script: "install.sh",
          args: [
            "--app",
            user,
            "--address",
            { addressOf: node },
            "--port",
            String(app.port),
            "--wsgi",
            app.wsgi,
            "--workers",
            String(workersOf(app, settings)),
            "--timeout",
            String(timeoutOf(app, settings)),
            "--tag",
            app.tag,
            "--git-url",
            gitUrl(settings.gitUrlTemplate, app),
            "--pip-mode",
            settings.pipMode,
            "--overrides",
            overridesArg(app.overrides),
            "--deploy-checks",
            app.deployChecks,
            "--health-path",
            app.healthCheck,
          ],
        },
      ],
      remove: { script: "prepare.sh", args: ["--remove", user] },
    });
  }
  // From the first node into the app's static directory on the nginx host, which the host's
  // access step (publish-access) makes, and removes when the app leaves. The files live on the
  // nginx host: its replacement publishes again (stacks deployed before ran this step there, so
  // the trigger, and with it the step's state, stays the same on the upgrade). No delete command.
  add({
    name: name("publish"),
    phase: "static",
    host: first,
    rerunWith: edges,
    stdin: "publishKey",
    dependsOn: nodes.map((n) => name("install", n)),
    formerNames: [name("webroot")],
    run: [{ script: "static.sh", args: [user, app.tag, { addressOf: SSH_PORT }, ...edges.map((e) => ({ addressOf: e }))] }],
  });
  let before = name("publish");
  const migrate = (phase: "expand" | "contract"): Invocation => ({
    script: "migrate.sh",
    args: [user, app.tag, phase, ...migrationArgs(app, settings)],
  });
  if (app.migrations) {
    add({
      name: name("expand"),
      phase: "expand",
      host: first,
      dependsOn: [name("publish"), name("database")],
      run: [migrate("expand")],
    });
    before = name("expand");
  }
  // Each node prunes right after its own switch: prune.sh always keeps the serving and the
  // previous release (what a later failure or the contract step may still need).
  const prune: Invocation = { script: "prune.sh", args: [user, String(app.keepReleases), app.tag] };
  const servesAfter: Record<string, string> = {};
  for (const node of nodes) {
    // Its own node's install too, not only through the chain: when a node is added or replaced,
    // the steps before it in the chain did not change, and the engine would not wait for them.
    add({
      name: name("switch", node),
      phase: "switch",
      host: node,
      dependsOn: [before, name("database"), name("install", node)],
      // The app's processes and schedules (rollout/processes.ts): their programs checked in the
      // staged release before the switch, restarted onto it right after.
      run: [
        processesInvocation("check", user, app),
        {
          script: "switch.sh",
          args: [user, app.tag, { addressOf: node }, String(app.port), app.domain, app.healthCheck, String(settings.healthSeconds)],
        },
        processesInvocation("apply", user, app),
        prune,
      ],
      remove: processesRemoval(user),
    });
    servesAfter[node] = name("switch", node);
    before = name("switch", node);
  }
  const servingStep = before;
  if (app.migrations) {
    // After every switch, not only the last: a replaced node-1 switches again while the last
    // switch, unchanged, runs nothing.
    add({
      name: name("contract"),
      phase: "contract",
      host: first,
      dependsOn: Object.values(servesAfter),
      run: [migrate("contract")],
    });
  }
  return { app: a, tag: app.tag, scriptsDir: scriptsDir(scriptsVersion), steps, servingStep, servesAfter };
}

/** migrate.sh's limits, small-table threshold and acknowledgements: the app's own, else fleet:deploy's. */
function migrationArgs(app: AppForStack, settings: DeploySettings): string[] {
  return [
    String(app.migrationLockTimeout ?? settings.migrationLockTimeout),
    String(app.migrationStatementTimeout ?? settings.migrationStatementTimeout),
    String(app.migrationRetries ?? settings.migrationRetries),
    String(app.migrationSmallTableRows ?? settings.migrationSmallTableRows),
    ...app.acknowledgeMigrations,
  ];
}

/** gunicorn workers per node of an app: its own `workers`, else the stack's default. */
export function workersOf(app: Pick<AppForStack, "workers">, settings: Pick<DeploySettings, "gunicornWorkers">): number {
  return app.workers ?? settings.gunicornWorkers;
}

/** gunicorn's request timeout of an app: its own `timeout`, else the stack's default. */
export function timeoutOf(app: Pick<AppForStack, "timeout">, settings: Pick<DeploySettings, "gunicornTimeout">): number {
  return app.timeout ?? settings.gunicornTimeout;
}

/** The fixed first command on a fresh host: wait for cloud-init (when the host has it: the
 *  machines' own wait-for-cloud-init.sh, inline), then make the scripts' root. The rollout's
 *  scripts cannot do this: they are not there yet. An app node's deploy user may only run the
 *  node helper as root (render/cloudInit.ts), which has a command for it; the nginx hosts have none. */
export function waitCommand(waitForCloudInit: ProvisionFile): string {
  return [
    "set -e",
    provisionCommand(waitForCloudInit),
    `if [ -x ${NODE_HELPER} ]; then sudo -n ${NODE_HELPER} scripts-root; else sudo install -d -o "$(id -un)" -m 0755 ${SCRIPTS_ROOT}; fi`,
  ].join("\n");
}

/** The command line of one invocation, or of several run one after the other (`&&`), every
 *  argument quoted for sh. */
export function renderCommand(scriptsDir: string, inv: Invocation | Invocation[], addresses: Record<string, string>): string {
  if (Array.isArray(inv)) return inv.map((i) => renderCommand(scriptsDir, i, addresses)).join(" && ");
  const args = inv.args.map((arg) => {
    if (typeof arg === "string") return arg;
    const value = addresses[arg.addressOf];
    if (value === undefined || value === "") throw new RolloutError(`no address known for ${arg.addressOf}`);
    if (!ADDRESS_PATTERN.test(value))
      throw new RolloutError(
        `address of ${arg.addressOf} ${JSON.stringify(value)} is not allowed: a host name, an IPv4 address, a user name or a port`,
      );
    return value;
  });
  return ["sh", `${scriptsDir}/${inv.script}`, ...args].map(shellQuote).join(" ");
}

const ADDRESS_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,252}$/;

export function gitUrl(template: string, app: Pick<AppForStack, "name" | "repo">): string {
  return template.replace(/\{repo\}/g, app.repo).replace(/\{name\}/g, app.name);
}

export function databaseUrl(engine: DbEngine, app: string, password: string, host: string, port: number): string {
  const { database, databaseRole } = appIdentity(app);
  const scheme = engine === "postgres" ? "postgres" : "mysql";
  return `${scheme}://${databaseRole}:${encodeURIComponent(password)}@${host}:${port}/${database}`;
}

/** The address an app answers on: https:// when the nginx host has its certificate (fleet:tls). */
export function siteUrl(domain: string, https: boolean): string {
  return `${https ? "https" : "http"}://${domain}`;
}

/** The app's database, as its environment gives it (DATABASE_URL and the DB_* names). */
export interface AppDatabase {
  engine: DbEngine;
  host: string;
  port: number;
  password: string;
}

/** The app's media bucket (its own, or on a recovery stack the replica of the stack it replaces). */
export interface AppMedia {
  bucket: string;
  region: string;
}

/**
 * The platform's own environment of an app; the catalog may not override these names.
 * A release runs with the platform's settings module (fleet_platform_settings, from
 * node/rollout/platform_settings_module.py), which imports the
 * app's own (FLEET_APP_SETTINGS) and sets what the release's overrides leave on (stage.sh records them in
 * the release, so a catalog change of overrides never reaches a running release without its
 * preflight); the other names are there for apps
 * that read their settings from the environment: DATABASE_URL and DB_*, SECRET_KEY and
 * DJANGO_SECRET_KEY, the bucket under django-storages' names. SITE_URL is the public address
 * (https:// when the nginx host has the app's certificate), for CSRF_TRUSTED_ORIGINS.
 */
export function platformEnv(app: AppForStack, db: AppDatabase, secretKey: string, media: AppMedia, https = false): Record<string, string> {
  const { database, databaseRole } = appIdentity(app.name);
  return {
    // The app's own module; a release staged with the platform's settings module runs with that
    // one instead (gunicorn.conf.py, lib.sh release_python), which imports FLEET_APP_SETTINGS.
    DJANGO_SETTINGS_MODULE: app.settings,
    FLEET_APP_SETTINGS: app.settings,
    DATABASE_URL: databaseUrl(db.engine, app.name, db.password, db.host, db.port),
    DB_HOST: db.host,
    DB_PORT: String(db.port),
    DB_NAME: database,
    DB_USER: databaseRole,
    DB_PASSWORD: db.password,
    SECRET_KEY: secretKey,
    DJANGO_SECRET_KEY: secretKey,
    AWS_STORAGE_BUCKET_NAME: media.bucket,
    AWS_S3_REGION_NAME: media.region,
    ALLOWED_HOSTS: app.domain,
    SITE_URL: siteUrl(app.domain, https),
    STATIC_URL,
    FLEET_APP: app.name,
  };
}

/** The overrides the platform applies, in a stable order. */
export function enabledOverrides(overrides: Overrides): OverrideName[] {
  return OVERRIDE_NAMES.filter((o) => overrides[o]);
}

/** stage.sh's OVERRIDES argument: the names that are on, comma-separated; "none" when all are off. */
export function overridesArg(overrides: Overrides): string {
  return enabledOverrides(overrides).join(",") || "none";
}

/** The environment file: NAME='value' lines (sh quoting), sorted so the text is stable. */
export function envFileText(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((k) => {
      if (!ENV_NAME_PATTERN.test(k)) throw new RolloutError(`environment name ${JSON.stringify(k)} is not allowed`);
      if (/[\r\n\0]/.test(values[k])) throw new RolloutError(`environment value of ${k} must be a single line`);
      return `${k}='${values[k].replace(/'/g, `'\\''`)}'\n`;
    })
    .join("");
}

/** stdin of install.sh: the environment file (prepare.sh's), the marker line, then the git
 *  access (stage.sh's: the deploy key and known_hosts lines, or nothing). */
export function installStdin(envFile: string, gitAccess: string): string {
  if (envFile.split("\n").includes(GIT_ACCESS_MARKER)) throw new RolloutError(`the environment file holds the line ${GIT_ACCESS_MARKER}`);
  return `${envFile}${GIT_ACCESS_MARKER}\n${gitAccess}`;
}

/** stdin of database.sh: master user, master password, app password, one a line. */
export function databaseStdin(masterUser: string, masterPassword: string, appPassword: string): string {
  for (const v of [masterUser, masterPassword, appPassword]) {
    if (/[\r\n\0]/.test(v)) throw new RolloutError("database credentials must be single lines");
  }
  return `${masterUser}\n${masterPassword}\n${appPassword}\n`;
}

/** switch.sh's stdout "TAG COMMIT" -> what serves. */
export function parseServing(stdout: string | undefined): { tag: string; commit: string } | undefined {
  const m = /^(\S+) ([0-9a-f]{40})\s*$/m.exec(stdout ?? "");
  return m ? { tag: m[1], commit: m[2] } : undefined;
}

function checkName(what: string, value: string) {
  if (!NAME_PATTERN.test(value)) throw new RolloutError(`${what} name ${JSON.stringify(value)} is not allowed: use ${NAME_PATTERN.source}`);
}

function checkInputs(app: AppForStack, nodes: string[], scriptsVersion: string, edges: string[]) {
  checkName("app", app.name);
  if (app.tag === LATEST) throw new RolloutError(`${app.name}: tag "latest" must be resolved to a release tag before the rollout`);
  if (nodes.length === 0) throw new RolloutError(`${app.name}: no app nodes to deploy to`);
  for (const n of nodes) checkName("node", n);
  if (new Set(nodes).size !== nodes.length) throw new RolloutError(`${app.name}: a node is listed twice`);
  if (edges.length === 0) throw new RolloutError(`${app.name}: no nginx host to publish to`);
  for (const e of edges) checkName("nginx host", e);
  const both = nodes.find((n) => edges.includes(n) || n === STATIC_HOST);
  if (both) throw new RolloutError(`${both} is an nginx host, not an app node`);
  if (!/^[0-9a-f]{8,64}$/.test(scriptsVersion)) throw new RolloutError(`scripts version ${JSON.stringify(scriptsVersion)} must be hex`);
}
