// The nginx host: the only machine the internet reaches. It serves each app's static files
// and proxies the app's domain to the app nodes it serves on; its config is generated from the
// catalog and those nodes (render/nginx.ts) and published with `nginx -t` before a graceful
// reload, which waits for the old workers' requests (the drain before a node is deleted).
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { deployConnection, FleetMachine, fleetInstance, ProxyConnectionArgs, readyCommand } from "./machine";
import { NginxApp, NginxOptions, renderKeys, renderSites, SITES_STEP } from "../render/nginx";
import { renderAccess } from "../render/publishAccess";
import { provisionCommand } from "../render/shellCommand";
import { NGINX_CONF_DIR, NGINX_TLS_DIR, PUBLISH_USER, WEB_ROOT } from "../rollout/layout";
import { SshKey } from "./sshKey";
import { TlsFiles } from "../config/tlsConfig";

export const STATIC_HOST_NAME = "static-host";

export interface EdgeHostArgs {
    stack: string;
    instanceType: string;
    ami: string;
    rootVolumeGb: number;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    /** The Elastic IP (from Network) that DNS points at; associated with this host. */
    address: aws.ec2.Eip;
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

export interface PublishAccessArgs extends Pick<PublishPaths, "webRoot"> {
    apps: Pick<NginxApp, "name">[];
    /** The app nodes' private addresses: where the apps' publish keys may come from. */
    nodeIps: pulumi.Input<string>[];
    /** Overrides for tests (the static root); AWS uses the defaults. */
    nginx?: Pick<NginxOptions, "staticRoot">;
}

export class EdgeHost extends pulumi.ComponentResource {
    public readonly host: FleetMachine;
    /** The Elastic IP, available once it is associated with this host. */
    public readonly publicIp: pulumi.Output<string>;
    /** Proxy settings for reaching private app nodes through this host ("bastion" SSH). */
    public readonly bastion: pulumi.Output<ProxyConnectionArgs>;
    /** The publish step, once publishSites ran: after every app's switch steps (it reads what serves). */
    public nginxConfig?: command.remote.Command;
    /** Per app, once grantPublishAccess ran: the private half of its publish key (a secret), which may
     *  only write that app's static files here (render/publishAccess.ts). */
    public readonly publishKeys: Record<string, pulumi.Output<string>> = {};
    /** The access step, once grantPublishAccess ran: the apps' publish steps dependsOn it. */
    public publishAccess?: command.remote.Command;

    private readonly instance: aws.ec2.Instance;

    constructor(name: string, args: EdgeHostArgs, opts?: pulumi.ComponentResourceOptions) {
        // The nginx host, which is also the SSH bastion of private nodes. It was declared as
        // fleet:infra:StaticHost: the alias keeps existing stacks from replacing it.
        super("fleet:infra:EdgeHost", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "fleet:infra:StaticHost" }] });
        this.instance = fleetInstance({
            stack: args.stack, name: STATIC_HOST_NAME, role: "static-host", ami: args.ami, instanceType: args.instanceType,
            rootVolumeGb: args.rootVolumeGb, subnetId: args.subnetId, securityGroupId: args.securityGroupId,
            keyName: args.sshKey.keyName, deployPublicKey: args.sshKey.publicKey,
            // Its only public address is the Elastic IP, so a connection never dials a stale one.
            associatePublicIp: false,
        }, this);
        const association = new aws.ec2.EipAssociation(STATIC_HOST_NAME, {
            allocationId: args.address.allocationId, instanceId: this.instance.id,
        }, { parent: this });
        // Read through the association so whatever uses the address waits until it routes here.
        this.publicIp = pulumi.all([association.id, args.address.publicIp]).apply(([, ip]) => ip);

        const connection = deployConnection(this.publicIp, args.sshKey.privateKey);
        const ready = readyCommand(STATIC_HOST_NAME, this.instance, connection, ["nginx"], this, [association]);
        this.host = { name: STATIC_HOST_NAME, privateIp: this.instance.privateIp, connection, ready };
        // The proxy hop waits for the host to be provisioned (the deploy user exists only then).
        this.bastion = pulumi.secret(pulumi.all([ready.id, connection]).apply(([, c]): ProxyConnectionArgs => ({
            host: c.host, user: c.user, privateKey: c.privateKey, dialErrorLimit: -1,
        })));
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
        this.nginxConfig = new command.remote.Command(SITES_STEP, {
            connection: this.host.connection,
            create: publish,
            update: publish,
            stdin: pulumi.output(args.upstreams).apply((upstreams) => renderSites(args.apps, upstreams, pems, nginx)),
            // A replaced host starts without the fleet's files: publish again.
            triggers: [this.instance.id],
        }, { parent: this, dependsOn: keys ? [this.host.ready, keys] : [this.host.ready] });
        return this.nginxConfig;
    }

    /**
     * Per app a publish key, and the access step that lets each key only write its app's static
     * files here (render/publishAccess.ts): apart from the server blocks, as the apps' publish
     * steps need it before any node serves, and the server blocks wait for what serves.
     */
    public grantPublishAccess(args: PublishAccessArgs): command.remote.Command {
        const publicKeys = Object.fromEntries(args.apps.map((a) => {
            const key = new tls.PrivateKey(`${a.name}-publish-key`, { algorithm: "ED25519" }, { parent: this });
            this.publishKeys[a.name] = pulumi.secret(key.privateKeyOpenssh);
            return [a.name, key.publicKeyOpenssh];
        }));
        const grant = publishCommand("access", { webRoot: args.nginx?.staticRoot ?? args.webRoot });
        this.publishAccess = new command.remote.Command("publish-access", {
            connection: this.host.connection,
            create: grant,
            update: grant,
            stdin: pulumi.all([pulumi.all(args.nodeIps), pulumi.all(publicKeys)]).apply(([ips, keys]) =>
                renderAccess(args.apps.map((a) => ({ name: a.name, publicKey: keys[a.name] })), ips, args.nginx?.staticRoot ?? args.webRoot)),
            // A replaced host starts without the fleet's files: grant again.
            triggers: [this.instance.id],
        }, { parent: this, dependsOn: [this.host.ready] });
        return this.publishAccess;
    }

    /** The private keys, alone and secret, before the server blocks that use them. */
    private publishTlsKeys(certificates: Record<string, TlsFiles>, paths: PublishPaths): command.remote.Command {
        const publish = publishCommand("keys", paths);
        return new command.remote.Command("nginx-keys", {
            connection: this.host.connection,
            create: publish,
            update: publish,
            stdin: pulumi.secret(renderKeys(certificates)),
            triggers: [this.instance.id],
        }, { parent: this, dependsOn: [this.host.ready] });
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
    return provisionCommand("publish-nginx-config.sh", args);
}
