// Media storage: one S3 bucket per app (so IAM can give each app exactly its own), each
// with the public access block fully on, versioning, server-side encryption and a
// TLS-only policy; optionally replicated to a bucket in a recovery region. A recovery
// stack can instead serve media straight from the replicas of the stack it replaces.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { fleetTags } from "./awsTags";
import { appResourceName, bucketName } from "../config/identity";

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
        for (const name of [mediaBucketName(args.bucketPrefix, args.stack, app), replicaBucketName(args.bucketPrefix, args.mediaFromStack ?? args.stack, app)]) {
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
        Statement: [{
            Sid: "DenyInsecureTransport", Effect: "Deny", Principal: "*", Action: "s3:*",
            Resource: [bucketArn, `${bucketArn}/*`], Condition: { Bool: { "aws:SecureTransport": "false" } },
        }],
    };
}

export class Storage extends pulumi.ComponentResource {
    /** app -> bucket name the app stores its media in. */
    public readonly buckets: Record<string, pulumi.Output<string>> = {};
    /** app -> ARN of that bucket (for the nodes' IAM). */
    public readonly bucketArns: Record<string, pulumi.Output<string>> = {};
    /** The region of every app's media bucket (mediaBucketRegion). */
    public readonly mediaRegion: string;
    /** app -> replica bucket name (when replicating). */
    public readonly replicaBuckets: Record<string, pulumi.Output<string>> = {};

    private readonly args: StorageArgs;

    constructor(name: string, args: StorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("fleet:infra:Storage", name, {}, opts);
        this.args = args;
        this.mediaRegion = mediaBucketRegion(args);
        const problem = checkBucketNames(args);
        if (problem) throw new pulumi.RunError(problem);
        const replicationRole = args.replicationRegion && !args.mediaFromStack ? this.replicationRole() : undefined;

        for (const app of [...args.apps].sort()) {
            if (args.mediaFromStack) {
                // Recovery: the replicas already hold the media; point the app at them.
                const bucket = replicaBucketName(args.bucketPrefix, args.mediaFromStack, app);
                this.buckets[app] = pulumi.output(bucket);
                this.bucketArns[app] = pulumi.output(`arn:aws:s3:::${bucket}`);
                continue;
            }
            const primary = this.secureBucket(appResourceName(app, "media"), mediaBucketName(args.bucketPrefix, args.stack, app), app);
            this.buckets[app] = primary.bucket.bucket;
            this.bucketArns[app] = primary.bucket.arn;
            if (replicationRole && args.replicationRegion) {
                this.replicate(app, primary, replicationRole, args.replicationRegion);
            }
        }
        this.registerOutputs({ buckets: this.buckets, replicaBuckets: this.replicaBuckets });
    }

    /** A bucket with every protection the policy pack checks, each as its own resource. */
    private secureBucket(name: string, bucketName: string, app: string, region?: string): SecureBucket {
        const child = { parent: this };
        const bucket = new aws.s3.Bucket(name, {
            bucket: bucketName, region, forceDestroy: false, tags: fleetTags(this.args.stack, name, { app, role: "storage" }),
        }, { parent: this, protect: this.args.protect });
        const publicAccess = new aws.s3.BucketPublicAccessBlock(`${name}-public-access`, {
            bucket: bucket.id, region, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true,
        }, child);
        const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, {
            bucket: bucket.id, region, versioningConfiguration: { status: "Enabled" },
        }, child);
        // SSE-S3: encrypted at rest with no KMS key to manage, and replication needs no key grants.
        new aws.s3.BucketServerSideEncryptionConfiguration(`${name}-encryption`, {
            bucket: bucket.id, region, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
        }, child);
        new aws.s3.BucketPolicy(`${name}-tls-only`, {
            bucket: bucket.id, region, policy: bucket.arn.apply((arn) => JSON.stringify(tlsOnlyPolicy(arn))),
        }, { parent: this, dependsOn: [publicAccess] });
        return { bucket, versioning };
    }

    private replicate(app: string, primary: SecureBucket, role: aws.iam.Role, region: string): void {
        const replicaName = appResourceName(app, "media-replica");
        const replica = this.secureBucket(replicaName, replicaBucketName(this.args.bucketPrefix, this.args.stack, app), app, region);
        this.replicaBuckets[app] = replica.bucket.bucket;
        const permissions = new aws.iam.RolePolicy(appResourceName(app, "media-replication-permissions"), {
            role: role.name,
            policy: pulumi.all([primary.bucket.arn, replica.bucket.arn]).apply(([src, dst]) => JSON.stringify(replicationPolicy(src, dst))),
        }, { parent: this });
        // Replication needs versioning on both sides and the role's permissions in place.
        new aws.s3.BucketReplicationConfig(appResourceName(app, "media-replication"), {
            bucket: primary.bucket.id,
            role: role.arn,
            rules: [{
                id: "media-to-recovery-region", status: "Enabled", filter: {},
                deleteMarkerReplication: { status: "Enabled" },
                destination: { bucket: replica.bucket.arn, storageClass: "STANDARD_IA" },
            }],
        }, { parent: this, dependsOn: [primary.versioning, replica.versioning, permissions] });
    }

    private replicationRole(): aws.iam.Role {
        return new aws.iam.Role("media-replication", {
            assumeRolePolicy: JSON.stringify({
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sts:AssumeRole" }],
            }),
            tags: fleetTags(this.args.stack, "media-replication", { role: "storage" }),
        }, { parent: this });
    }
}

/** What S3 replication needs on the source and destination; nothing more. Pure. */
export function replicationPolicy(sourceArn: string, destinationArn: string): Record<string, unknown> {
    return {
        Version: "2012-10-17",
        Statement: [
            { Effect: "Allow", Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"], Resource: [sourceArn] },
            { Effect: "Allow", Action: ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"], Resource: [`${sourceArn}/*`] },
            { Effect: "Allow", Action: ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], Resource: [`${destinationArn}/*`] },
        ],
    };
}
