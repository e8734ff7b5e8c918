// An nginx host: the only kind of machine the internet reaches. It serves each app's static
// files and proxies the app's domain to the app nodes it serves on; its config is generated from
// the catalog and those nodes (render/nginx.ts) and published with `nginx -t` before a graceful
// reload, which waits for the old workers' requests (the drain before a node is deleted). A stack
// has fleet:staticHost.count of them (components/infra/edge.ts): host 1, `static-host`, has the Elastic IP
// and is the SSH bastion; the others have their own public address.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { deployConnection, FleetMachine, fleetInstance, ProxyConnectionArgs, readyCommand } from "./machine";
import { NginxApp, NginxOptions, renderKeys, renderSites, SITES_STEP } from "../../render/nginx";
import { renderAccess } from "../../render/publishAccess";
import { provisionCommand } from "../../render/shellCommand";
import { provisionFile } from "../../node/scripts";
import { NGINX_CONF_DIR, NGINX_TLS_DIR, PUBLISH_USER, WEB_ROOT } from "../../rollout/layout";
import { SshKey } from "./sshKey";
import { TlsFiles } from "../../config/tlsConfig";
import { STATIC_HOST_NAME } from "../../rollout/topology";

/** An nginx host as the steps that run on it (and the load balancer) see it. */
export interface EdgeMachine extends FleetMachine {
  /** The EC2 instance's id: a replaced host has a new one (triggers, target registration). */
  instanceId: pulumi.Output<string>;
}

export interface EdgeHostArgs {
  stack: string;
  instanceType: string;
  ami: string;
  rootVolumeGb: number;
  subnetId: pulumi.Input<string>;
  securityGroupId: pulumi.Input<string>;
  /** Host 1: the Elastic IP (from Network), associated with this host and its only public
   *  address. The other hosts: absent, they get an address of their own at launch. */
  address?: aws.ec2.Eip;
  sshKey: SshKey;
}

/** Where the publish script writes on the host; AWS uses the defaults, local test hosts their own. */
export interface PublishPaths {
  /** Include directory of the host's nginx; the script creates it if missing. */
  confDir?: string;
  /** Certificates and keys (root only); the script creates it if missing. */
  tlsDir?: string;
  /** nginx main config to test and reload, when not nginx's built-in default. */
  nginxConf?: string;
  /** Where the apps' static directories live (WEB_ROOT); the script creates and removes them. */
  webRoot?: string;
}

export interface SitesArgs extends PublishPaths {
  /** The apps; an app whose name is in `certificates` is served over HTTPS. */
  apps: Omit<NginxApp, "certificate">[];
  /** Per app, the nodes it serves on (AppDeployment.servingAddresses): the step waits for the
   *  switch steps they are read through, and an app serving nowhere gets no site. */
  upstreams: pulumi.Input<Record<string, pulumi.Input<string[]>>>;
  /** Per app name: its certificate chain and private key. Only the keys step gets the keys,
   *  as a secret; the certificates are public and stay readable in the plan. */
  certificates?: Record<string, TlsFiles>;
  /** Overrides for tests (listen port, static root); AWS uses the defaults. */
  nginx?: Omit<NginxOptions, "tlsDir">;
}

export interface AccessArgs {
  /** Per app name: the public half of its publish key. */
  publicKeys: Record<string, pulumi.Input<string>>;
  /** The app nodes' private addresses: the only ones a publish key works from. */
  nodeIps: pulumi.Input<string>[];
  /** Where the apps' static directories live (WEB_ROOT; tests their own). */
  webRoot?: string;
}

export class EdgeHost extends pulumi.ComponentResource {
  public readonly host: EdgeMachine;
  /** Host 1: the Elastic IP, available once it is associated with this host; others: their own address. */
  public readonly publicIp: pulumi.Output<string>;
  /** Proxy settings for reaching private app nodes through this host ("bastion" SSH). */
  public readonly bastion: pulumi.Output<ProxyConnectionArgs>;
  /** The publish step, once publishSites ran: after every app's switch steps (it reads what serves). */
  public nginxConfig?: command.remote.Command;
  /** The access step, once grantPublishAccess ran: the apps' publish steps dependsOn it. */
  public publishAccess?: command.remote.Command;

  private readonly instance: aws.ec2.Instance;

  constructor(name: string, args: EdgeHostArgs, opts?: pulumi.ComponentResourceOptions) {
    // Host 1 is also the SSH bastion of private nodes. It was declared as
    // fleet:infra:StaticHost: the alias keeps existing stacks from replacing it.
    const aliases = name === STATIC_HOST_NAME ? [{ type: "fleet:infra:StaticHost" }] : [];
    super("fleet:infra:EdgeHost", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), ...aliases] });
    this.instance = fleetInstance(
      {
        stack: args.stack,
        name,
        role: "static-host",
        ami: args.ami,
        instanceType: args.instanceType,
        rootVolumeGb: args.rootVolumeGb,
        subnetId: args.subnetId,
        securityGroupId: args.securityGroupId,
        keyName: args.sshKey.keyName,
        deployPublicKey: args.sshKey.publicKey,
        // With the Elastic IP as its only public address, a connection never dials a stale one.
        associatePublicIp: args.address === undefined,
      },
      this,
    );
    const association =
      args.address &&
      new aws.ec2.EipAssociation(
        name,
        {
          allocationId: args.address.allocationId,
          instanceId: this.instance.id,
        },
        { parent: this },
      );
    // Read through the association so whatever uses the address waits until it routes here.
    this.publicIp =
      association && args.address ? pulumi.all([association.id, args.address.publicIp]).apply(([, ip]) => ip) : this.instance.publicIp;

    const connection = deployConnection(this.publicIp, args.sshKey.privateKey);
    const ready = readyCommand(name, this.instance, connection, ["nginx"], this, association ? [association] : []);
    this.host = { name, privateIp: this.instance.privateIp, connection, ready, instanceId: this.instance.id };
    // The proxy hop waits for the host to be provisioned (the deploy user exists only then).
    this.bastion = pulumi.secret(
      pulumi.all([ready.id, connection]).apply(([, c]): ProxyConnectionArgs => ({
        host: c.host,
        user: c.user,
        privateKey: c.privateKey,
        dialErrorLimit: -1,
      })),
    );
    this.registerOutputs({ publicIp: this.publicIp, privateIp: this.instance.privateIp });
  }

  /**
   * Generates the nginx config for `apps` and publishes it (nginx -t, then graceful reload).
   * Separate from the constructor because the nodes it proxies to reach SSH through this host.
   */
  public publishSites(args: SitesArgs): command.remote.Command {
    const certificates = args.certificates ?? {};
    const keys = Object.keys(certificates).length > 0 ? this.publishTlsKeys(certificates, args) : undefined;
    // Sorted, deterministic text: an unchanged catalog, set of serving nodes and certificates
    // give identical stdin, so nothing runs.
    const nginx: NginxOptions = { ...args.nginx, tlsDir: args.tlsDir ?? NGINX_TLS_DIR };
    const pems = Object.fromEntries(Object.entries(certificates).map(([app, c]) => [app, c.certificate]));
    const publish = publishCommand("sites", args);
    this.nginxConfig = new command.remote.Command(
      this.stepName(SITES_STEP),
      {
        connection: this.host.connection,
        create: publish,
        update: publish,
        stdin: pulumi.output(args.upstreams).apply((upstreams) => renderSites(args.apps, upstreams, pems, nginx)),
        // A replaced host starts without the fleet's files: publish again.
        triggers: [this.instance.id],
      },
      { parent: this, dependsOn: keys ? [this.host.ready, keys] : [this.host.ready] },
    );
    return this.nginxConfig;
  }

  /**
   * The access step: lets each app's publish key (made once for every host: Edge) only write
   * that app's static files here (render/publishAccess.ts). Apart from the server blocks: the
   * apps' publish steps need it before any node serves.
   */
  public grantPublishAccess(args: AccessArgs): command.remote.Command {
    const grant = publishCommand("access", { webRoot: args.webRoot });
    this.publishAccess = new command.remote.Command(
      this.stepName("publish-access"),
      {
        connection: this.host.connection,
        create: grant,
        update: grant,
        stdin: pulumi.all([pulumi.all(args.nodeIps), pulumi.all(args.publicKeys)]).apply(([ips, keys]) =>
          renderAccess(
            Object.entries(keys).map(([name, publicKey]) => ({ name, publicKey })),
            ips,
            args.webRoot,
          ),
        ),
        // A replaced host starts without the fleet's files: grant again.
        triggers: [this.instance.id],
      },
      { parent: this, dependsOn: [this.host.ready] },
    );
    return this.publishAccess;
  }

  /** Host 1's steps keep the names they always had (nginx-config); the others' carry the host's. */
  private stepName(what: string): string {
    return this.host.name === STATIC_HOST_NAME ? what : `${this.host.name}-${what}`;
  }

  /** The private keys, alone and secret, before the server blocks that use them. */
  private publishTlsKeys(certificates: Record<string, TlsFiles>, paths: PublishPaths): command.remote.Command {
    const publish = publishCommand("keys", paths);
    return new command.remote.Command(
      this.stepName("nginx-keys"),
      {
        connection: this.host.connection,
        create: publish,
        update: publish,
        stdin: pulumi.secret(renderKeys(certificates)),
        triggers: [this.instance.id],
      },
      { parent: this, dependsOn: [this.host.ready] },
    );
  }
}

/** The exact command line a publish step runs on the host (files go to its stdin). */
export function publishCommand(mode: "keys" | "sites" | "access", paths: PublishPaths = {}): string {
  const tlsDir = paths.tlsDir ?? NGINX_TLS_DIR;
  const args = {
    keys: [mode, tlsDir],
    sites: [mode, paths.confDir ?? NGINX_CONF_DIR, tlsDir, paths.nginxConf ?? ""],
    access: [mode, paths.webRoot ?? WEB_ROOT, PUBLISH_USER],
  }[mode];
  while (args[args.length - 1] === "") args.pop();
  return provisionCommand(provisionFile("publish-nginx-config.sh"), args);
}
