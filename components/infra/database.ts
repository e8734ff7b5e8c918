// The database: one RDS instance (PostgreSQL by default, MySQL allowed) in the database
// subnets, private, encrypted, backed up, and in production protected and multi-AZ.
// It can also be born from a snapshot, the newest snapshot of an instance, or a point in
// time: that is how disaster recovery brings the data back (docs/disaster-recovery.md).
// Per-app databases and roles are created from a node by the deploy component, with the
// master credentials exposed here (the password only as a secret).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DatabaseRecovery } from "../../config/stackConfig";
import { fleetTags } from "./awsTags";

export type Engine = "postgres" | "mysql";

export const ENGINE_PORTS: Record<Engine, number> = { postgres: 5432, mysql: 3306 };

export interface DatabaseArgs {
  stack: string;
  engine: Engine;
  engineVersion?: string;
  instanceClass: string;
  allocatedStorageGb: number;
  multiAz: boolean;
  backupRetentionDays: number;
  deletionProtection: boolean;
  masterUsername: string;
  backupReplicationRegion?: string;
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  /** Start from existing data instead of an empty database. */
  recovery?: DatabaseRecovery;
  /** Pulumi `protect`: `pulumi destroy` refuses to delete it. */
  protect: boolean;
}

/** The RDS identifier: predictable, so a recovery stack can name the instance it restores from. */
export function databaseIdentifier(stack: string): string {
  return `fleet-${stack}`;
}

/** Where the new instance's data comes from, as aws.rds.Instance arguments. */
export function restoreArgs(
  recovery: DatabaseRecovery | undefined,
  parent: pulumi.Resource,
): Pick<aws.rds.InstanceArgs, "snapshotIdentifier" | "restoreToPointInTime"> {
  switch (recovery?.from) {
    case undefined:
      return {};
    case "snapshot":
      return { snapshotIdentifier: recovery.snapshot };
    case "latestSnapshot":
      // Resolved at `pulumi up`; the chosen ARN is recorded in state, so later runs keep it
      // unless a newer snapshot appears AND the stack still has recovery set (remove it after recovery).
      return {
        snapshotIdentifier: aws.rds.getSnapshotOutput(
          { dbInstanceIdentifier: recovery.sourceInstance, mostRecent: true, includeShared: true },
          { parent },
        ).dbSnapshotArn,
      };
    case "pointInTime": {
      const source = recovery.source.startsWith("arn:")
        ? { sourceDbInstanceAutomatedBackupsArn: recovery.source }
        : { sourceDbInstanceIdentifier: recovery.source };
      const when = recovery.time ? { restoreTime: recovery.time } : { useLatestRestorableTime: true };
      return { restoreToPointInTime: { ...source, ...when } };
    }
  }
}

export class Database extends pulumi.ComponentResource {
  public readonly address: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;
  public readonly engine: Engine;
  public readonly masterUsername: pulumi.Output<string>;
  /** Secret. */
  public readonly masterPassword: pulumi.Output<string>;
  public readonly instance: aws.rds.Instance;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("fleet:infra:Database", name, {}, opts);
    const tags = fleetTags(args.stack, "database", { role: "database" });
    const identifier = databaseIdentifier(args.stack);
    const subnets = new aws.rds.SubnetGroup(
      "database",
      {
        name: identifier,
        subnetIds: args.subnetIds,
        description: `fleet ${args.stack} database subnets`,
        tags,
      },
      { parent: this },
    );
    // Letters and digits only: RDS refuses / @ " and space, and a plain password survives
    // every quoting layer between here and a DATABASE_URL.
    const password = new random.RandomPassword("database-master-password", { length: 40, special: false }, { parent: this });
    this.masterPassword = pulumi.secret(password.result);
    const restoring = args.recovery?.from !== undefined;

    this.instance = new aws.rds.Instance(
      "database",
      {
        identifier,
        engine: args.engine,
        engineVersion: args.engineVersion,
        instanceClass: args.instanceClass,
        allocatedStorage: args.allocatedStorageGb,
        maxAllocatedStorage: args.allocatedStorageGb * 4,
        storageType: "gp3",
        storageEncrypted: true,
        port: ENGINE_PORTS[args.engine],
        // A restored instance keeps the snapshot's master user; only the password is reset.
        username: restoring ? undefined : args.masterUsername,
        password: this.masterPassword,
        dbSubnetGroupName: subnets.name,
        vpcSecurityGroupIds: [args.securityGroupId],
        publiclyAccessible: false,
        multiAz: args.multiAz,
        backupRetentionPeriod: args.backupRetentionDays,
        // Backups outlive the instance: deleting the stack must not delete the way back.
        deleteAutomatedBackups: false,
        skipFinalSnapshot: false,
        finalSnapshotIdentifier: `${identifier}-final`,
        copyTagsToSnapshot: true,
        deletionProtection: args.deletionProtection,
        autoMinorVersionUpgrade: true,
        ...restoreArgs(args.recovery, this),
        tags,
      },
      {
        parent: this,
        protect: args.protect,
        // Where the data came from matters only at creation. Without this, removing the recovery
        // settings (or a newer "latest" snapshot) would REPLACE the live database with a new one.
        ignoreChanges: ["snapshotIdentifier", "restoreToPointInTime", "username"],
      },
    );

    if (args.backupReplicationRegion) this.replicateBackups(args, args.backupReplicationRegion);

    this.address = this.instance.address;
    this.port = this.instance.port;
    this.engine = args.engine;
    // The instance's own user: a restored one keeps the snapshot's, whatever the config says now.
    this.masterUsername = this.instance.username.apply((u) => u ?? args.masterUsername);
    this.registerOutputs({ address: this.address, port: this.port, engine: this.engine, masterUsername: this.masterUsername });
  }

  /** Cross-region copies of the automated backups, encrypted with a key of that region (RDS requires one). */
  private replicateBackups(args: DatabaseArgs, region: string): void {
    const tags = fleetTags(args.stack, "database-backups", { role: "database" });
    const key = new aws.kms.Key(
      "database-backups",
      {
        region,
        description: `fleet ${args.stack}: replicated RDS automated backups`,
        enableKeyRotation: true,
        deletionWindowInDays: 30,
        tags,
      },
      { parent: this, protect: args.protect },
    );
    new aws.rds.InstanceAutomatedBackupsReplication(
      "database-backups",
      {
        region,
        sourceDbInstanceArn: this.instance.arn,
        retentionPeriod: args.backupRetentionDays,
        kmsKeyId: key.arn,
      },
      { parent: this },
    );
  }
}
