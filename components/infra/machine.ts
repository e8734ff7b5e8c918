// What every fleet machine shares (app nodes and the nginx host): hardened EC2 instance
// settings, first-boot provisioning, the deploy user's SSH connection, and a "ready" step.
// Plain functions, not a component: each caller's component is the parent.
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DEPLOY_USER, LogShipping, MachineRole, renderCloudInit } from "../../render/cloudInit";
import { provisionCommand } from "../../render/shellCommand";
import { appNodeSources, provisionFile } from "../../node/scripts";
import { fleetTags } from "./awsTags";

export type ConnectionArgs = command.types.input.remote.ConnectionArgs;
export type ProxyConnectionArgs = command.types.input.remote.ProxyConnectionArgs;

/** One machine (an app node or the nginx host) as the components that run commands on it see it. */
export interface FleetHost {
  /** Logical name: node-1, node-2, ... (the switch order), static-host. */
  name: string;
  privateIp: pulumi.Input<string>;
  /** How @pulumi/command reaches the deploy user (privateKey is secret). */
  connection: pulumi.Input<ConnectionArgs>;
  /** Completes when first-boot provisioning has finished: dependsOn it before running anything. */
  ready?: pulumi.Resource;
  /** What lives and dies with the machine (its EC2 instance, else its ready step): a
   *  replacement re-runs every step on the new machine, a deletion skips delete commands. */
  instance?: pulumi.CustomResource;
}

/** A host this program built: its address and connection are Outputs, and it has a ready step. */
export interface FleetMachine extends FleetHost {
  privateIp: pulumi.Output<string>;
  connection: pulumi.Output<ConnectionArgs>;
  ready: pulumi.Resource;
}

export interface InstanceSpec {
  stack: string;
  name: string;
  role: MachineRole;
  ami: string;
  instanceType: string;
  rootVolumeGb: number;
  subnetId: pulumi.Input<string>;
  securityGroupId: pulumi.Input<string>;
  keyName: pulumi.Input<string>;
  deployPublicKey: pulumi.Input<string>;
  associatePublicIp: boolean;
  iamInstanceProfile?: pulumi.Input<string>;
  /** App nodes: fleet:nodes.heavyJobs (render/cloudInit.ts). */
  heavyJobs?: number;
  /** App nodes: where their log shipper sends the apps' journal (render/cloudInit.ts). */
  logShipping?: LogShipping;
  /** App nodes: another instance type or user data makes a new instance, created (and serving)
   *  before the old one is deleted, instead of an in-place stop and start, which drops every
   *  request the node has in flight (docs/infrastructure.md, "Replacing a node"). */
  replaceToChange?: boolean;
}

export function fleetInstance(spec: InstanceSpec, parent: pulumi.Resource): aws.ec2.Instance {
  const tags = fleetTags(spec.stack, spec.name, { role: spec.role });
  return new aws.ec2.Instance(
    spec.name,
    {
      ami: spec.ami,
      instanceType: spec.instanceType,
      subnetId: spec.subnetId,
      vpcSecurityGroupIds: [spec.securityGroupId],
      associatePublicIpAddress: spec.associatePublicIp,
      keyName: spec.keyName,
      iamInstanceProfile: spec.iamInstanceProfile,
      // IMDSv2 only, one hop: a process on the box (or an SSRF through an app) cannot
      // read the instance role's credentials with a plain GET.
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      rootBlockDevice: { encrypted: true, volumeType: "gp3", volumeSize: spec.rootVolumeGb, deleteOnTermination: true },
      // Public key only: user data is stored and shown in clear text.
      userData: pulumi
        .output(spec.deployPublicKey)
        .apply((deployPublicKey) =>
          renderCloudInit({ role: spec.role, deployPublicKey, heavyJobs: spec.heavyJobs, logShipping: spec.logShipping }, appNodeSources()),
        ),
      userDataReplaceOnChange: spec.replaceToChange,
      tags,
      volumeTags: tags,
    },
    spec.replaceToChange ? { parent, replaceOnChanges: ["instanceType"], deleteBeforeReplace: false } : { parent },
  );
}

/**
 * The deploy user's connection; dialErrorLimit -1 keeps retrying while a fresh machine boots.
 * The whole value is secret because it carries the private key (an Output is secret as a whole).
 */
export function deployConnection(
  host: pulumi.Input<string>,
  privateKey: pulumi.Output<string>,
  proxy?: pulumi.Input<ProxyConnectionArgs>,
): pulumi.Output<ConnectionArgs> {
  return pulumi.secret(
    pulumi.all([host, privateKey, proxy]).apply(([h, key, p]): ConnectionArgs => ({
      host: h,
      user: DEPLOY_USER,
      privateKey: key,
      dialErrorLimit: -1,
      ...(p ? { proxy: p } : {}),
    })),
  );
}

/** Waits for cloud-init and checks the commands later steps need; reruns only for a new instance. */
export function readyCommand(
  name: string,
  instance: aws.ec2.Instance,
  connection: pulumi.Input<ConnectionArgs>,
  commands: string[],
  parent: pulumi.Resource,
  dependsOn: pulumi.Resource[] = [],
): command.remote.Command {
  return new command.remote.Command(
    `${name}-ready`,
    {
      connection,
      create: provisionCommand(provisionFile("wait-for-cloud-init.sh"), commands),
      triggers: [instance.id],
    },
    { parent, dependsOn: [instance, ...dependsOn] },
  );
}
