// The typed stack config: both real stack files parse; each kind of mistake is one line
// naming the file, line, key and what is allowed.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as path from "path";
import { catalogStack, deployTag, mediaFromStack, StackConfig } from "../../config/stackConfig";
import { checkStackFileAs, PROJECT_DIR, stackConfigFromFile } from "../helpers/infraHarness";

/** The sections the cases edit (the fleet:* keys of a real stack file, without the prefix). */
interface Editable {
  [key: string]: unknown;
  nodes: Record<string, unknown>;
  database?: Record<string, unknown>;
  network: Record<string, unknown>;
}

/** A real stack file checked by the program's reader after `edit` changed its fleet:* sections
 *  (and aws:region, as `region`). */
function check(edit: (v: Editable) => void, stack = "alpha", as = stack) {
  return checkStackFileAs(
    stack,
    (values) => {
      const sections: Record<string, unknown> = { region: values["aws:region"] };
      for (const [k, v] of Object.entries(values)) if (k.startsWith("fleet:")) sections[k.slice("fleet:".length)] = v;
      edit(sections as Editable);
      for (const k of Object.keys(values)) if (k.startsWith("fleet:") || k === "aws:region") delete values[k];
      for (const [k, v] of Object.entries(sections)) if (v !== undefined) values[k === "region" ? "aws:region" : `fleet:${k}`] = v;
    },
    as,
  );
}

function configFor(edit: (v: Editable) => void, stack = "alpha", as = stack): StackConfig {
  const report = check(edit, stack, as);
  assert.ok(report.settings, report.errors.join("\n"));
  return report.settings.infra;
}

function errorFor(edit: (v: Editable) => void, stack = "alpha"): string {
  const { errors } = check(edit, stack);
  assert.equal(errors.length, 1, `expected one error, got: ${errors.join("\n")}`);
  assert.doesNotMatch(errors[0], /\n/, "one line");
  return errors[0];
}

describe("stack config (fleet:*)", () => {
  it("parses both stack files, with the sizes each promises", () => {
    const alpha = stackConfigFromFile("alpha");
    const production = stackConfigFromFile("production");
    assert.equal(alpha.region, "eu-west-1");
    assert.equal(production.region, "eu-west-1");
    assert.deepEqual(
      [alpha.nodes.count, alpha.nodes.instanceType, alpha.database.instanceClass, alpha.database.multiAz, alpha.protect],
      [1, "t3.small", "db.t4g.micro", false, false],
    );
    assert.deepEqual(
      [
        production.nodes.count,
        production.database.multiAz,
        production.database.deletionProtection,
        production.database.backupRetentionDays,
        production.protect,
      ],
      [3, true, true, 14, true],
    );
    assert.equal(production.database.engine, "postgres");
    assert.equal(production.network.sshAccess, "bastion");
    assert.equal(alpha.network.sshAccess, "direct");
    assert.ok(production.storage.replicationRegion);
    assert.match(alpha.nodes.ami, /^ami-[0-9a-f]+$/);
  });

  it("applies defaults for optional keys", () => {
    const config = configFor((v) => {
      delete v.staticHost;
      delete v.storage;
      delete v.protect;
    });
    assert.equal(config.staticHost.instanceType, "t3.micro");
    assert.equal(config.storage.bucketPrefix, "fleet");
    assert.equal(config.protect, false);
    assert.equal(config.logs.retentionDays, 30);
    assert.equal(config.recovery, undefined);
    assert.equal(catalogStack(config), "alpha");
    assert.equal(deployTag(config, "v1.2.0"), "v1.2.0");
    assert.equal(mediaFromStack(config), undefined);
  });

  const cases: [string, (v: Editable) => void, RegExp][] = [
    ["a node count of 0", (v) => (v.nodes.count = 0), /^Pulumi\.alpha\.yaml:14:12: fleet:nodes\.count: must be >= 1 \(got 0\)$/],
    [
      "an engine RDS is not allowed to be here",
      (v) => (v.database = { ...v.database, engine: "oracle" }),
      /^Pulumi\.alpha\.yaml:24:13: fleet:database\.engine: must be one of "postgres", "mysql" \(got "oracle"\)$/,
    ],
    [
      "a typo'd key",
      (v) => (v.nodes.cuont = 2),
      /^Pulumi\.alpha\.yaml:\d+:\d+: fleet:nodes\.cuont: unknown key; allowed: count, instanceType, .* \(did you mean count\?\)$/,
    ],
    [
      "a bad admin CIDR",
      (v) => (v.adminCidrs = ["10.0.0.0/33"]),
      /^Pulumi\.alpha\.yaml:12:7: fleet:adminCidrs\[0\]: must be an IPv4 CIDR like 203\.0\.113\.0\/24 \(got "10\.0\.0\.0\/33"\)$/,
    ],
    ["no admin CIDR", (v) => (v.adminCidrs = []), /fleet:adminCidrs: must be at least 1 item\(s\) \(got \[\]\)$/],
    ["an unpinned AMI", (v) => (v.nodes.ami = "latest"), /fleet:nodes\.ami: must be a pinned AMI id/],
    ["a string count", (v) => (v.nodes.count = "three"), /fleet:nodes\.count: must be a number \(got "three"\)$/],
    [
      "a missing section",
      (v) => delete v.database,
      /^Pulumi\.alpha\.yaml:\d+:\d+: fleet:database: is required \(missing\); see docs\/infrastructure\.md/,
    ],
    [
      "an unknown recovery source",
      (v) => (v.recovery = { replaces: "production", database: { from: "tape" } }),
      /fleet:recovery\.database\.from: .*snapshot.*latestSnapshot.*pointInTime/,
    ],
    [
      "a snapshot recovery without the snapshot",
      (v) => (v.recovery = { replaces: "production", database: { from: "snapshot" } }),
      /fleet:recovery\.database\.snapshot: is required \(missing\)$/,
    ],
    [
      "a point in time that is not a time",
      (v) => (v.recovery = { replaces: "production", database: { from: "pointInTime", source: "fleet-production", time: "yesterday" } }),
      /fleet:recovery\.database\.time: .*\(got "yesterday"\)$/,
    ],
    [
      "media recovery without a replica region",
      (v) => (v.recovery = { replaces: "production" }),
      /fleet:recovery\.media: "replica" needs fleet:storage\.replicationRegion/,
    ],
    [
      "backups replicated into their own region",
      (v) => (v.database = { ...v.database, backupReplicationRegion: "eu-west-1" }),
      /fleet:database\.backupReplicationRegion: must differ from aws:region eu-west-1/,
    ],
    [
      "a recovery that replaces itself",
      (v) => (v.recovery = { replaces: "alpha", media: "empty" }),
      /fleet:recovery\.replaces: must name the stack being replaced/,
    ],
    [
      "a recovery that does not say what it replaces",
      (v) => (v.recovery = { media: "empty" }),
      /fleet:recovery\.replaces: is required \(missing\)$/,
    ],
    [
      "an unknown top-level key",
      (v) => (v.nodez = {}),
      /fleet:nodez: unknown key; allowed: aws:region, .*fleet:network, .*fleet:recovery, .*\(did you mean fleet:nodes\?\)$/,
    ],
    [
      "a log retention CloudWatch does not take",
      (v) => (v.logs = { retentionDays: 10 }),
      /^Pulumi\.alpha\.yaml(:\d+:\d+)?: fleet:logs\.retentionDays: must be a retention CloudWatch takes, in days: 1, 3, 5, 7, 14, 30, 60, .*, 3653 \(got 10\)$/,
    ],
    ["an unknown key of fleet:logs", (v) => (v.logs = { retention: 30 }), /fleet:logs\.retention: unknown key; allowed: retentionDays$/],
    ["a VPC too small for six subnets", (v) => (v.network.cidr = "10.0.0.0/24"), /fleet:network\.cidr: must be a CIDR of \/18 or larger/],
  ];
  for (const [what, edit, expected] of cases) {
    it(`reports ${what} as one line`, () => assert.match(errorFor(edit), expected));
  }

  it("reports a missing region", () => {
    assert.match(
      errorFor((v) => delete v.region),
      /^Pulumi\.alpha\.yaml:\d+:\d+: aws:region: is required \(missing\); see docs\/infrastructure\.md/,
    );
  });

  it("accepts each recovery source", () => {
    const sources = [
      { from: "snapshot", snapshot: "arn:aws:rds:eu-west-1:123456789012:snapshot:fleet-production-final" },
      { from: "latestSnapshot", sourceInstance: "fleet-production" },
      { from: "pointInTime", source: "fleet-production", time: "2026-11-26T03:00:00Z" },
      { from: "pointInTime", source: "arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-abc123" },
    ];
    for (const database of sources) {
      const config = configFor(
        (values) => {
          values.recovery = { replaces: "production", database, tags: "latest" };
          // recovering INTO eu-central-1: backups now replicate elsewhere
          values.region = "eu-central-1";
          values.database = { ...values.database, backupReplicationRegion: "eu-north-1" };
        },
        "production",
        "production-dr",
      );
      assert.deepEqual(config.recovery?.database, database);
      assert.equal(config.recovery?.tags, "latest");
      assert.equal(config.recovery?.media, "replica");
      assert.equal(catalogStack(config), "production");
      assert.equal(deployTag(config, "v1.2.0"), "latest");
      assert.equal(mediaFromStack(config), "production");
    }
  });
});

describe("loadSettings (inside a Pulumi program)", function () {
  this.timeout(60000);
  const worker = path.join(__dirname, "..", "helpers", "loadConfigWorker.ts");
  const run = (stack: string, overrides: Record<string, unknown> = {}) =>
    spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", worker, stack, JSON.stringify(overrides)], {
      cwd: PROJECT_DIR,
      encoding: "utf8",
    });

  it("reads fleet:* and aws:region from the engine's config for the running stack", () => {
    const result = run("production");
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), JSON.parse(JSON.stringify(stackConfigFromFile("production"))));
  });

  it("fails with a RunError (no stack trace) whose message is the one line, pointing into the stack file", () => {
    const nodes = { ...stackConfigFromFile("alpha").nodes, count: 0 };
    const result = run("alpha", { "fleet:nodes": nodes });
    assert.equal(result.status, 1);
    assert.equal(result.stderr, "RunError: Pulumi.alpha.yaml:14:12: fleet:nodes.count: must be >= 1 (got 0)");
  });
});
