// AppDeployment: one app's rolling release on one stack, as @pulumi/command resources that run
// the scripts in node/rollout on the nodes over SSH. The steps, their order and their
// arguments come from the pure rollout plan (rolloutPlan.ts); this file maps them onto
// resources and supplies what only Pulumi knows: addresses, credentials and secrets.
//
// Traps of @pulumi/command 1.2 this is built around:
//  - `environment` (and addPreviousOutputInEnv) travel as SSH setenv, refused without AcceptEnv:
//    nothing goes that way; values are arguments (non-secret) or stdin (secret).
//  - A failed command's error repeats the command and its output: no secret is ever in a
//    command line; steps reading a secret on stdin log nothing and keep stdout/stderr secret.
//  - A fresh instance refuses SSH for a while and dial retries do not wait: the first step on
//    each host retries without limit (dialErrorLimit -1) inside a timeout, then waits for cloud-init.
//  - triggers replace, other inputs update (here: create again); every input is deterministic.
//    The instance id is a trigger, so a replaced instance gets every step again; deletedWith
//    the instance keeps delete commands from aiming at a host that is gone.
//  - The connection user defaults to root: it is always set.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import type { FleetHost } from "../infra/machine";
import { ROLLOUT_SCRIPTS_DIR } from "../render/shellCommand";
import type { AppForStack } from "../config/catalog";
import {
  DATABASE,
  DATABASE_PORT,
  databaseStdin,
  DbEngine,
  DEFAULT_DEPLOY_SETTINGS,
  DeploySettings,
  envFileText,
  forgetCommand,
  parseServing,
  platformEnv,
  renderCommand,
  rolloutPlan,
  SSH_PORT,
  SSH_USER,
  STATIC_HOST,
  StdinKind,
  Step,
  waitCommand,
} from "../rollout/plan";

type ConnectionArgs = command.types.input.remote.ConnectionArgs;

export interface DeployDatabase {
  engine: DbEngine;
  address: pulumi.Input<string>;
  port: pulumi.Input<number>;
  masterUsername: pulumi.Input<string>;
  masterPassword: pulumi.Input<string>;
}

export interface AppDeploymentArgs {
  app: AppForStack;
  nodes: FleetHost[];
  staticHost: FleetHost;
  database: DeployDatabase;
  /** Values of the app's `secrets` (from secret stack config), by name. */
  secrets?: Record<string, pulumi.Input<string>>;
  /** Private key of the repository's deploy key, when git goes over SSH. */
  deployKey?: pulumi.Input<string>;
  settings?: Partial<DeploySettings>;
  /** What must exist before static files are published and the first node switches
   *  (the nginx host's site configuration). */
  siteReady?: pulumi.Resource;
  /** The nginx host serves the app over HTTPS (its SITE_URL says so). */
  https?: boolean;
  /** The app's media bucket and its region (infra/storage.ts). */
  media: { bucket: pulumi.Input<string>; region: string };
}

/** How long the first step on a host keeps trying to reach SSH (a booting instance). */
const FIRST_CONTACT_TIMEOUT = "20m";

/** The files the rollout copies to every host: all of node/rollout (and nothing of node/provision,
 *  whose changes must not re-run every app's steps). */
export function rolloutFiles(dir: string = ROLLOUT_SCRIPTS_DIR): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name).sort();
}

/** A hash of the rollout's files: a changed script is a new scripts directory on the nodes. */
export function scriptsVersion(dir: string = ROLLOUT_SCRIPTS_DIR): string {
  const hash = createHash("sha256");
  for (const file of rolloutFiles(dir)) {
    hash.update(file).update("\0").update(fs.readFileSync(path.join(dir, file))).update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

export class AppDeployment extends pulumi.ComponentResource {
  /** The tag now serving on every node (from the last node's switch). */
  public readonly tag: pulumi.Output<string>;
  /** The commit now serving on every node. */
  public readonly commit: pulumi.Output<string>;

  constructor(name: string, args: AppDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:app:AppDeployment", name, {}, opts);
    // The database.sh engine is the database's own, whatever the settings say.
    const settings: DeploySettings = { ...DEFAULT_DEPLOY_SETTINGS, ...(args.settings ?? {}), dbEngine: args.database.engine };
    const app = args.app;
    const plan = rolloutPlan(app, args.nodes.map((n) => n.name), scriptsVersion(), settings);
    const hosts = new Map<string, FleetHost>([...args.nodes.map((n): [string, FleetHost] => [n.name, n]), [STATIC_HOST, args.staticHost]]);

    const dbPassword = new random.RandomPassword(`${app.name}-db-password`, { length: 32, special: false }, { parent: this });
    const secretKey = new random.RandomPassword(`${app.name}-secret-key`, { length: 64, special: false }, { parent: this });
    const stdin = this.stdinSources(args, dbPassword.result, secretKey.result);

    const staticConn = pulumi.output(args.staticHost.connection);
    const addresses = pulumi.all({
      ...Object.fromEntries([...hosts].map(([n, h]) => [n, pulumi.output(h.privateIp)])),
      [DATABASE]: pulumi.output(args.database.address),
      [DATABASE_PORT]: pulumi.output(args.database.port).apply(String),
      // The connection is secret as a whole (it holds the key); its user and port are not,
      // and must not make every command line secret (previews would hide them).
      [SSH_USER]: pulumi.unsecret(staticConn.apply((c) => c.user ?? settings.sshUser)),
      [SSH_PORT]: pulumi.unsecret(staticConn.apply((c) => String(c.port ?? 22))),
    });

    const made = new Map<string, pulumi.CustomResource>();
    for (const step of plan.steps) {
      const host = hosts.get(step.host)!;
      const anchor = host.instance ?? (host.ready instanceof pulumi.CustomResource ? host.ready : undefined);
      const resourceOpts: pulumi.CustomResourceOptions = {
        parent: this,
        dependsOn: [...step.dependsOn.map((d) => made.get(d)!), ...this.outsideDependencies(step, host, args)],
        deletedWith: anchor,
      };
      const connection = pulumi.output(host.connection).apply((c): ConnectionArgs => ({
        ...c,
        user: c.user ?? settings.sshUser,
        // Only the first contact waits for a booting host; later steps fail fast.
        ...(step.phase === "wait" ? { dialErrorLimit: -1, perDialTimeout: 15 } : {}),
      }));
      const triggers = anchor ? [anchor.id] : undefined;
      if (step.phase === "copy") {
        made.set(step.name, new command.remote.CopyToRemote(step.name, {
          connection, triggers, source: new pulumi.asset.FileArchive(ROLLOUT_SCRIPTS_DIR), remotePath: plan.scriptsDir,
        }, resourceOpts));
        continue;
      }
      const create = step.run
        ? addresses.apply((a) => renderCommand(plan.scriptsDir, step.run!, a))
        : pulumi.output(waitCommand(app.name));
      const secretStdin = step.stdin !== undefined;
      made.set(step.name, new command.remote.Command(step.name, {
        connection,
        triggers,
        create,
        delete: step.remove
          ? addresses.apply((a) => renderCommand(plan.scriptsDir, step.remove!, a))
          : step.phase === "wait" ? forgetCommand(app.name) : undefined,
        stdin: step.stdin ? stdin[step.stdin] : undefined,
        addPreviousOutputInEnv: false,
        logging: secretStdin ? "none" : "stdoutAndStderr",
      }, {
        ...resourceOpts,
        additionalSecretOutputs: secretStdin ? ["stdout", "stderr"] : [],
        customTimeouts: step.phase === "wait" ? { create: FIRST_CONTACT_TIMEOUT, update: FIRST_CONTACT_TIMEOUT } : undefined,
      }));
    }

    const serving = (made.get(plan.servingStep) as command.remote.Command).stdout.apply((s) => parseServing(s));
    this.tag = serving.apply((s) => s?.tag ?? app.tag);
    this.commit = serving.apply((s) => s?.commit ?? "");
    this.registerOutputs({ tag: this.tag, commit: this.commit });
  }

  /** Dependencies outside the component: the host's provisioning, the nginx site. */
  private outsideDependencies(step: Step, host: FleetHost, args: AppDeploymentArgs): pulumi.Resource[] {
    if (step.phase === "wait" && host.ready) return [host.ready];
    if ((step.phase === "static" || step.phase === "switch") && args.siteReady) return [args.siteReady];
    return [];
  }

  /** What each kind of step reads on stdin, every value a Pulumi secret. */
  private stdinSources(args: AppDeploymentArgs, dbPassword: pulumi.Output<string>, secretKey: pulumi.Output<string>): Record<StdinKind, pulumi.Output<string>> {
    const app = args.app;
    const db = args.database;
    const secretNames = [...app.secrets].sort();
    const secretValues = pulumi.all(secretNames.map((n) => {
      const v = args.secrets?.[n];
      if (v === undefined) throw new pulumi.RunError(`${app.name}: secret ${n} has no value (set it with: pulumi config set --secret ${app.name}.${n} ...)`);
      return pulumi.output(v);
    }));
    const env = pulumi.all([dbPassword, secretKey, db.address, db.port, secretValues, args.media.bucket]).apply(([pw, key, host, port, values, bucket]) => {
      const secrets = Object.fromEntries(secretNames.map((n, i) => [n, values[i]]));
      const media = { bucket, region: args.media.region };
      return envFileText({ ...app.env, ...secrets, ...platformEnv(app, { engine: db.engine, host, port, password: pw }, key, media, args.https) });
    });
    const staticKey = pulumi.output(args.staticHost.connection).apply((c) => c.privateKey ?? "");
    return {
      env: pulumi.secret(env),
      database: pulumi.secret(pulumi.all([db.masterUsername, db.masterPassword, dbPassword]).apply(([u, p, a]) => databaseStdin(u, p, a))),
      deployKey: pulumi.secret(pulumi.output(args.deployKey ?? "")),
      staticKey: pulumi.secret(pulumi.output(staticKey)),
    };
  }
}
