// The app nodes: N identical EC2 machines, spread over the two zones, each running every
// app of the stack under gunicorn. They keep nothing: data lives in RDS and S3, so a node
// can be replaced at any time and DR is "build new ones".
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { deployConnection, FleetMachine, fleetInstance, ProxyConnectionArgs, readyCommand } from "./machine";
import { SshKey } from "./sshKey";
import { fleetTags } from "./awsTags";
import { nodeNames } from "../../rollout/topology";
import { logShippingPolicy } from "./logGroups";
import type { LogShipping } from "../../render/cloudInit";

export interface AppNodesArgs {
  stack: string;
  count: number;
  instanceType: string;
  /** Pinned AMI (a lookup would replace every node whenever a new image appears). */
  ami: string;
  rootVolumeGb: number;
  /** Heavy-work slots per node (fleet:nodes.heavyJobs; absent: the CPU count). */
  heavyJobs?: number;
  /** One subnet per zone; node i goes to subnet i mod n. */
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  sshKey: SshKey;
  /** true: nodes get public addresses and are reached directly; false: through `bastion`. */
  publicAddresses: boolean;
  bastion?: pulumi.Input<ProxyConnectionArgs>;
  /** The ARN pattern of the apps' media buckets (Storage.bucketArnPattern): the only S3 the nodes may touch. */
  mediaBucketArnPattern: string;
  /** The apps' CloudWatch log groups (infra/logGroups.ts): the only ones the nodes may write. */
  logShipping: LogShipping;
}

export class AppNodes extends pulumi.ComponentResource {
  public readonly nodes: FleetMachine[];
  public readonly privateIps: pulumi.Output<string>[];
  public readonly role: aws.iam.Role;

  constructor(name: string, args: AppNodesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:infra:AppNodes", name, {}, opts);
    if (!args.publicAddresses && !args.bastion) throw new Error("AppNodes: private nodes need a bastion connection");
    this.role = this.instanceRole(args);
    const profile = new aws.iam.InstanceProfile(
      "node-profile",
      {
        role: this.role.name,
        tags: fleetTags(args.stack, "node-profile", { role: "app-node" }),
      },
      { parent: this },
    );

    this.nodes = nodeNames(args.count).map((nodeName, i) => {
      const instance = fleetInstance(
        {
          stack: args.stack,
          name: nodeName,
          role: "app-node",
          ami: args.ami,
          instanceType: args.instanceType,
          rootVolumeGb: args.rootVolumeGb,
          subnetId: args.subnetIds[i % args.subnetIds.length],
          securityGroupId: args.securityGroupId,
          keyName: args.sshKey.keyName,
          deployPublicKey: args.sshKey.publicKey,
          associatePublicIp: args.publicAddresses,
          iamInstanceProfile: profile.name,
          heavyJobs: args.heavyJobs,
          logShipping: args.logShipping,
          replaceToChange: true,
        },
        this,
      );
      const host = args.publicAddresses ? instance.publicIp : instance.privateIp;
      const connection = deployConnection(host, args.sshKey.privateKey, args.publicAddresses ? undefined : args.bastion);
      const ready = readyCommand(nodeName, instance, connection, ["python3", "git", "systemctl"], this);
      return { name: nodeName, privateIp: instance.privateIp, connection, ready };
    });
    this.privateIps = this.nodes.map((n) => n.privateIp);
    this.registerOutputs({ privateIps: this.privateIps });
  }

  /**
   * The nodes' role, its media policy (the apps' buckets by their name pattern) and its log
   * policy (the apps' log groups by theirs). Every app
   * on a node gets the node's role, so a policy per app bucket isolated nothing, and IAM allows
   * a role 10,240 characters of inline policy in all: about 30 apps' policies.
   */
  private instanceRole(args: AppNodesArgs): aws.iam.Role {
    const role = new aws.iam.Role(
      "node-role",
      {
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags: fleetTags(args.stack, "node-role", { role: "app-node" }),
      },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      "node-media",
      { role: role.name, policy: JSON.stringify(appBucketPolicy(args.mediaBucketArnPattern)) },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      "node-logs",
      { role: role.name, policy: JSON.stringify(logShippingPolicy(args.logShipping.groupPrefix)) },
      { parent: this },
    );
    return role;
  }
}

/** Read/write of the objects of the buckets `bucketArn` names (one, or a pattern) and listing them; nothing else. Pure. */
export function appBucketPolicy(bucketArn: string): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: [
      { Sid: "ListMediaBucket", Effect: "Allow", Action: ["s3:ListBucket", "s3:GetBucketLocation"], Resource: [bucketArn] },
      { Sid: "ReadWriteMedia", Effect: "Allow", Action: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource: [`${bucketArn}/*`] },
    ],
  };
}
