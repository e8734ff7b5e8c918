// Media storage: one S3 bucket per app (so IAM can give each app exactly its own), each
// versioned and with a TLS-only policy; optionally replicated to a bucket in a recovery region.
// A recovery stack can instead serve media straight from the replicas of the stack it replaces.
// Per bucket only what per-app isolation needs; what AWS offers per account is set once:
//  - public access: the account's S3 Block Public Access, all four settings on, covers every
//    bucket of the account (kept when a stack is destroyed: other stacks may share the account);
//  - encryption at rest: S3 applies SSE-S3 to every bucket and every new object since 5 January
//    2023 (docs.aws.amazon.com/AmazonS3/latest/userguide/UsingServerSideEncryption.html), which
//    is what the per-bucket AES256 configuration set: nothing per bucket;
//  - replication: one role and one policy for the stack, naming its buckets by their pattern.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { fleetTags } from "./awsTags";
import { appResourceName, bucketName } from "../../config/identity";

export interface StorageArgs {
  stack: string;
  /** The stack's own region (aws:region), where the primary buckets are. */
  region: string;
  bucketPrefix: string;
  apps: string[];
  /** Region of the replica buckets (cross-region replication), if any. */
  replicationRegion?: string;
  /** Recovery: use the replica buckets of this stack instead of creating primaries. */
  mediaFromStack?: string;
  protect: boolean;
}

export const S3_NAME_MAX = 63;

interface SecureBucket {
  bucket: aws.s3.Bucket;
  versioning: aws.s3.BucketVersioning;
}

/** Deterministic bucket names (config/identity.ts); a recovery stack derives the replicas' names from the old stack's. Pure. */
export function mediaBucketName(prefix: string, stack: string, app: string): string {
  return bucketName(prefix, stack, app, "media");
}
export function replicaBucketName(prefix: string, stack: string, app: string): string {
  return bucketName(prefix, stack, app, "media-dr");
}

/** The region of the bucket an app stores its media in: a recovery stack serving the replicas
 *  uses them where they are (the replication region). Pure. */
export function mediaBucketRegion(args: Pick<StorageArgs, "region" | "replicationRegion" | "mediaFromStack">): string {
  return args.mediaFromStack && args.replicationRegion ? args.replicationRegion : args.region;
}

/** The first bucket name S3 would refuse (too long), as one line, or undefined. Pure. */
export function checkBucketNames(args: Pick<StorageArgs, "bucketPrefix" | "stack" | "apps" | "mediaFromStack">): string | undefined {
  for (const app of args.apps) {
    for (const name of [
      mediaBucketName(args.bucketPrefix, args.stack, app),
      replicaBucketName(args.bucketPrefix, args.mediaFromStack ?? args.stack, app),
    ]) {
      if (name.length > S3_NAME_MAX) {
        return `fleet:storage.bucketPrefix: bucket name ${name} for app ${app} is ${name.length} characters, S3 allows ${S3_NAME_MAX}; use a shorter prefix`;
      }
    }
  }
  return undefined;
}

/** Refuses every request that does not arrive over TLS. Pure. */
export function tlsOnlyPolicy(bucketArn: string): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [bucketArn, `${bucketArn}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
    ],
  };
}

export class Storage extends pulumi.ComponentResource {
  /** app -> bucket name the app stores its media in. */
  public readonly buckets: Record<string, pulumi.Output<string>> = {};
  /** The ARN pattern of every app's media bucket (for the nodes' IAM): this stack's, or on a
   *  recovery stack the replicas of the stack it replaces. */
  public readonly bucketArnPattern: string;
  /** The region of every app's media bucket (mediaBucketRegion). */
  public readonly mediaRegion: string;
  /** app -> replica bucket name (when replicating). */
  public readonly replicaBuckets: Record<string, pulumi.Output<string>> = {};

  private readonly args: StorageArgs;

  constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:infra:Storage", name, {}, opts);
    this.args = args;
    this.mediaRegion = mediaBucketRegion(args);
    this.bucketArnPattern = bucketArn(
      args.mediaFromStack
        ? replicaBucketName(args.bucketPrefix, args.mediaFromStack, "*")
        : mediaBucketName(args.bucketPrefix, args.stack, "*"),
    );
    const problem = checkBucketNames(args);
    if (problem) throw new pulumi.RunError(problem);
    const publicAccess = args.mediaFromStack ? undefined : this.accountPublicAccessBlock();
    const replication = args.replicationRegion && !args.mediaFromStack ? this.replicationRole() : undefined;

    for (const app of [...args.apps].sort()) {
      if (args.mediaFromStack) {
        // Recovery: the replicas already hold the media; point the app at them.
        const bucket = replicaBucketName(args.bucketPrefix, args.mediaFromStack, app);
        this.buckets[app] = pulumi.output(bucket);
        continue;
      }
      const primary = this.secureBucket(
        appResourceName(app, "media"),
        mediaBucketName(args.bucketPrefix, args.stack, app),
        app,
        publicAccess,
      );
      this.buckets[app] = primary.bucket.bucket;
      if (replication && args.replicationRegion) {
        this.replicate(app, primary, replication, args.replicationRegion, publicAccess);
      }
    }
    this.registerOutputs({ buckets: this.buckets, replicaBuckets: this.replicaBuckets });
  }

  /** The account's S3 Block Public Access, every setting on: no bucket of the account can be made public. */
  private accountPublicAccessBlock(): aws.s3.AccountPublicAccessBlock {
    return new aws.s3.AccountPublicAccessBlock(
      "account-public-access",
      {
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      { parent: this, retainOnDelete: true },
    );
  }

  /** A bucket with what the policy pack checks per bucket: versioning and the TLS-only policy. */
  private secureBucket(name: string, bucketName: string, app: string, publicAccess?: pulumi.Resource, region?: string): SecureBucket {
    const bucket = new aws.s3.Bucket(
      name,
      {
        bucket: bucketName,
        region,
        forceDestroy: false,
        tags: fleetTags(this.args.stack, name, { app, role: "storage" }),
      },
      { parent: this, protect: this.args.protect },
    );
    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      {
        bucket: bucket.id,
        region,
        versioningConfiguration: { status: "Enabled" },
      },
      { parent: this },
    );
    new aws.s3.BucketPolicy(
      `${name}-tls-only`,
      {
        bucket: bucket.id,
        region,
        policy: bucket.arn.apply((arn) => JSON.stringify(tlsOnlyPolicy(arn))),
      },
      { parent: this, dependsOn: publicAccess ? [publicAccess] : [] },
    );
    return { bucket, versioning };
  }

  private replicate(app: string, primary: SecureBucket, replication: Replication, region: string, publicAccess?: pulumi.Resource): void {
    const replicaName = appResourceName(app, "media-replica");
    const replica = this.secureBucket(
      replicaName,
      replicaBucketName(this.args.bucketPrefix, this.args.stack, app),
      app,
      publicAccess,
      region,
    );
    this.replicaBuckets[app] = replica.bucket.bucket;
    // Replication needs versioning on both sides and the role's permissions in place.
    new aws.s3.BucketReplicationConfig(
      appResourceName(app, "media-replication"),
      {
        bucket: primary.bucket.id,
        role: replication.role.arn,
        rules: [
          {
            id: "media-to-recovery-region",
            status: "Enabled",
            filter: {},
            deleteMarkerReplication: { status: "Enabled" },
            destination: { bucket: replica.bucket.arn, storageClass: "STANDARD_IA" },
          },
        ],
      },
      { parent: this, dependsOn: [primary.versioning, replica.versioning, replication.permissions] },
    );
  }

  /** The stack's replication role and its one policy (every media bucket to its replica). */
  private replicationRole(): Replication {
    const role = new aws.iam.Role(
      "media-replication",
      {
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sts:AssumeRole" }],
        }),
        tags: fleetTags(this.args.stack, "media-replication", { role: "storage" }),
      },
      { parent: this },
    );
    const { bucketPrefix, stack } = this.args;
    const permissions = new aws.iam.RolePolicy(
      "media-replication-permissions",
      {
        role: role.name,
        policy: JSON.stringify(
          replicationPolicy(bucketArn(mediaBucketName(bucketPrefix, stack, "*")), bucketArn(replicaBucketName(bucketPrefix, stack, "*"))),
        ),
      },
      { parent: this },
    );
    return { role, permissions };
  }
}

interface Replication {
  role: aws.iam.Role;
  permissions: aws.iam.RolePolicy;
}

/** The ARN of a bucket name (or of a name pattern with `*`). Pure. */
export function bucketArn(name: string): string {
  return `arn:aws:s3:::${name}`;
}

/** What S3 replication needs on the source and destination; nothing more. The stack's policy
 *  names its buckets by pattern (`<prefix>-<stack>-*-media`, replicas `...-media-dr`): one
 *  policy for any number of apps (a role's inline policies hold at most 10,240 characters), and
 *  S3 assumes the role only for the replication rules this stack writes. Pure. */
export function replicationPolicy(sourceArn: string, destinationArn: string): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: [
      { Effect: "Allow", Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"], Resource: [sourceArn] },
      {
        Effect: "Allow",
        Action: ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
        Resource: [`${sourceArn}/*`],
      },
      { Effect: "Allow", Action: ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], Resource: [`${destinationArn}/*`] },
    ],
  };
}
