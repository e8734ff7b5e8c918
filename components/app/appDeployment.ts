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
//  - A fresh instance refuses SSH for a while: HostScripts (one per host, shared by every app)
//    makes the first contact and copies the scripts; every step here depends on it.
//  - triggers replace, other inputs update (here: create again); every input is deterministic.
//    The instance id is a trigger, so a replaced instance gets every step again; deletedWith
//    the instance keeps delete commands from aiming at a host that is gone.
//  - A step merged from older ones carries their names as aliases (Step.formerNames): Pulumi
//    matches it to their state instead of deleting them, so their delete commands never run
//    on the upgrade (docs/rollout.md, "Stacks deployed before the merged steps").
//  - The connection user defaults to root: it is always set.
//  - What serves is what the engine recorded: a switch step is in the state only once its command
//    exited 0, so `servingAddresses` reads each node's address through its switch step's id. That
//    makes the nginx sites (which read it) wait for the switches, and a tag bump, which updates the
//    switches in place (same id), leaves the sites unchanged, in a preview too (stdout would be
//    unknown there until the step ran again).
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import type { FleetHost } from "../infra/machine";
import type { AppForStack } from "../../config/catalog";
import { hostAnchor, hostConnection, HostScripts } from "./hostScripts";
import { AppRepository, AppRepositoryArgs, declareAppRepository } from "./appRepository";
import {
  DATABASE,
  DATABASE_PORT,
  databaseStdin,
  DbEngine,
  DeploySettings,
  envFileText,
  installStdin,
  parseServing,
  platformEnv,
  renderCommand,
  rolloutPlan,
  SSH_PORT,
  SSH_USER,
  StdinKind,
  Step,
} from "../../rollout/plan";

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
  /** Every nginx host (host 1, STATIC_HOST, first): each gets the app's static files. */
  edgeHosts: FleetHost[];
  /** The rollout's scripts on each of those hosts (one HostScripts per host, shared by every app). */
  scripts: HostScripts[];
  database: DeployDatabase;
  /** Values of the app's `secrets` (from secret stack config), by name. */
  secrets?: Record<string, pulumi.Input<string>>;
  /** The app's GitHub repository: its deploy key and, where this stack manages it, its guardrails. */
  repository: Omit<AppRepositoryArgs, "app">;
  /** What the install steps read after the environment: the app's private key (components/app/appKeys.ts),
   *  then the clone host's known_hosts lines. */
  deployKey?: pulumi.Input<string>;
  /** The app's private key (components/app/appKeys.ts): on the nginx hosts it may only write the app's static files. */
  publishKey: pulumi.Input<string>;
  /** The rollout's settings as the stack resolved them (config/: fleet:deploy over the defaults,
   *  the database's own engine). */
  settings: DeploySettings;
  /** What must exist before static files are published (every nginx host's publish access). The
   *  nginx hosts' sites are not waited for: they follow the switches (servingAddresses). */
  publishReady?: pulumi.Resource | pulumi.Resource[];
  /** The nginx host serves the app over HTTPS (its SITE_URL says so). */
  https?: boolean;
  /** The app's media bucket and its region (components/infra/storage.ts). */
  media: { bucket: pulumi.Input<string>; region: string };
}

export class AppDeployment extends pulumi.ComponentResource {
  /** The tag now serving on every node (from the last node's switch). */
  public readonly tag: pulumi.Output<string>;
  /** The commit now serving on every node. */
  public readonly commit: pulumi.Output<string>;
  /** The step that puts the release's static files on every nginx host. */
  public readonly published: command.remote.Command;
  /** The private addresses of the nodes this app serves on, each known once its switch step
   *  succeeded there: the app's nginx upstream (render/nginx.ts Upstreams). */
  public readonly servingAddresses: pulumi.Output<string[]>;
  /** The app's repository as the nodes see it (components/app/appRepository.ts). */
  public readonly repository: AppRepository;

  constructor(name: string, args: AppDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:app:AppDeployment", name, {}, opts);
    const settings = args.settings;
    const app = args.app;
    const hosts = new Map<string, FleetHost>([...args.nodes, ...args.edgeHosts].map((h): [string, FleetHost] => [h.name, h]));
    const scriptsOn = (host: FleetHost): HostScripts => {
      const found = args.scripts.find((s) => s.host === host);
      if (!found) throw new pulumi.RunError(`${app.name}: no HostScripts for host ${host.name}`);
      return found;
    };
    const plan = rolloutPlan(
      app,
      args.nodes.map((n) => n.name),
      scriptsOn(args.nodes[0]).version,
      settings,
      args.edgeHosts.map((h) => h.name),
    );
    this.repository = declareAppRepository({ ...args.repository, app: app.name }, this);

    const dbPassword = new random.RandomPassword(`${app.name}-db-password`, { length: 32, special: false }, { parent: this });
    const secretKey = new random.RandomPassword(`${app.name}-secret-key`, { length: 64, special: false }, { parent: this });
    const stdin = this.stdinSources(args, dbPassword.result, secretKey.result);

    const firstConn = pulumi.output(args.nodes[0].connection);
    const addresses = pulumi.all({
      ...Object.fromEntries([...hosts].map(([n, h]) => [n, pulumi.output(h.privateIp)])),
      [DATABASE]: pulumi.output(args.database.address),
      [DATABASE_PORT]: pulumi.output(args.database.port).apply(String),
      // The connection is secret as a whole (it holds the key); its user and port are not,
      // and must not make every command line secret (previews would hide them).
      [SSH_USER]: pulumi.unsecret(firstConn.apply((c) => c.user ?? settings.sshUser)),
      [SSH_PORT]: pulumi.unsecret(firstConn.apply((c) => String(c.port ?? 22))),
    });

    const made = new Map<string, command.remote.Command>();
    for (const step of plan.steps) {
      const host = hosts.get(step.host)!;
      const anchor = hostAnchor(host);
      const rerunWith = (step.rerunWith ?? [step.host]).map((h) => hostAnchor(hosts.get(h)!));
      const secretStdin = step.stdin !== undefined;
      made.set(
        step.name,
        new command.remote.Command(
          step.name,
          {
            connection: hostConnection(host, settings.sshUser),
            triggers: rerunWith.every((a) => a) ? rerunWith.map((a) => a!.id) : undefined,
            create: addresses.apply((a) => renderCommand(plan.scriptsDir, step.run!, a)),
            delete: step.remove ? addresses.apply((a) => renderCommand(plan.scriptsDir, step.remove!, a)) : undefined,
            stdin: step.stdin ? stdin[step.stdin] : undefined,
            addPreviousOutputInEnv: false,
            logging: secretStdin ? "none" : "stdoutAndStderr",
          },
          {
            parent: this,
            dependsOn: [scriptsOn(host).copied, ...step.dependsOn.map((d) => made.get(d)!), ...this.outsideDependencies(step, args)],
            deletedWith: anchor,
            aliases: (step.formerNames ?? []).map((former) => ({ name: former })),
            additionalSecretOutputs: secretStdin ? ["stdout", "stderr"] : [],
          },
        ),
      );
    }

    this.published = made.get(plan.steps.find((s) => s.phase === "static")!.name)!;
    const serving = made.get(plan.servingStep)!.stdout.apply((s) => parseServing(s));
    this.tag = serving.apply((s) => s?.tag ?? app.tag);
    this.commit = serving.apply((s) => s?.commit ?? "");
    this.servingAddresses = pulumi.all(
      args.nodes.map((n) => pulumi.all([made.get(plan.servesAfter[n.name])!.id, n.privateIp]).apply(([, ip]) => ip)),
    );
    this.registerOutputs({ tag: this.tag, commit: this.commit, servingAddresses: this.servingAddresses });
  }

  /** Dependencies outside the component: the nginx host's publish access. */
  private outsideDependencies(step: Step, args: AppDeploymentArgs): pulumi.Resource[] {
    if (step.phase === "static" && args.publishReady) return [args.publishReady].flat();
    return [];
  }

  /** What each kind of step reads on stdin, every value a Pulumi secret. */
  private stdinSources(
    args: AppDeploymentArgs,
    dbPassword: pulumi.Output<string>,
    secretKey: pulumi.Output<string>,
  ): Record<StdinKind, pulumi.Output<string>> {
    const app = args.app;
    const db = args.database;
    const secretNames = [...app.secrets].sort();
    const secretValues = pulumi.all(
      secretNames.map((n) => {
        const v = args.secrets?.[n];
        if (v === undefined)
          throw new pulumi.RunError(`${app.name}: secret ${n} has no value (set it with: pulumi config set --secret ${app.name}.${n} ...)`);
        return pulumi.output(v);
      }),
    );
    const env = pulumi
      .all([dbPassword, secretKey, db.address, db.port, secretValues, args.media.bucket])
      .apply(([pw, key, host, port, values, bucket]) => {
        const secrets = Object.fromEntries(secretNames.map((n, i) => [n, values[i]]));
        const media = { bucket, region: args.media.region };
        return envFileText({
          ...app.env,
          ...secrets,
          ...platformEnv(app, { engine: db.engine, host, port, password: pw }, key, media, args.https),
        });
      });
    return {
      install: pulumi.secret(pulumi.all([env, pulumi.output(args.deployKey ?? "")]).apply(([e, git]) => installStdin(e, git))),
      database: pulumi.secret(pulumi.all([db.masterUsername, db.masterPassword, dbPassword]).apply(([u, p, a]) => databaseStdin(u, p, a))),
      publishKey: pulumi.secret(pulumi.output(args.publishKey)),
    };
  }
}
