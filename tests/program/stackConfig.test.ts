// The typed stack config: both real stack files parse; each kind of mistake is one line
// naming the file, line, key and what is allowed.
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { catalogStack, deployTag, mediaFromStack, parseStackConfig } from "../../config/stackConfig";
import { PROJECT_DIR, stackConfigFromFile } from "../helpers/infraHarness";

type Values = Record<string, unknown>;
/** The sections the cases edit. */
interface Editable {
    [key: string]: unknown;
    nodes: Record<string, unknown>;
    database?: Record<string, unknown>;
    network: Record<string, unknown>;
}

/** The fleet:* values of a real stack file, for editing in a test, and the file's text. */
function stackFile(stack: string): { values: Values; text: string } {
    const text = fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8");
    const config = (parse(text) as { config: Record<string, unknown> }).config;
    const values: Values = {};
    for (const [k, v] of Object.entries(config)) if (k.startsWith("fleet:")) values[k.slice("fleet:".length)] = v;
    return { values, text };
}

function errorFor(edit: (v: Editable) => void, stack = "alpha"): string {
    const { values, text } = stackFile(stack);
    edit(values as Editable);
    const result = parseStackConfig({ stack, region: "eu-west-1", values, file: `Pulumi.${stack}.yaml`, fileText: text });
    assert.ok(result.error, "expected an error");
    assert.doesNotMatch(result.error, /\n/, "one line");
    return result.error;
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
            [production.nodes.count, production.database.multiAz, production.database.deletionProtection, production.database.backupRetentionDays, production.protect],
            [3, true, true, 14, true],
        );
        assert.equal(production.database.engine, "postgres");
        assert.equal(production.network.sshAccess, "bastion");
        assert.equal(alpha.network.sshAccess, "direct");
        assert.ok(production.storage.replicationRegion);
        assert.match(alpha.nodes.ami, /^ami-[0-9a-f]+$/);
    });

    it("applies defaults for optional keys", () => {
        const { values } = stackFile("alpha");
        delete values.staticHost;
        delete values.storage;
        delete values.protect;
        const result = parseStackConfig({ stack: "alpha", region: "eu-west-1", values });
        assert.ok(result.config, result.error);
        assert.equal(result.config.staticHost.instanceType, "t3.micro");
        assert.equal(result.config.storage.bucketPrefix, "fleet");
        assert.equal(result.config.protect, false);
        assert.equal(result.config.logs.retentionDays, 30);
        assert.equal(result.config.recovery, undefined);
        assert.equal(catalogStack(result.config), "alpha");
        assert.equal(deployTag(result.config, "v1.2.0"), "v1.2.0");
        assert.equal(mediaFromStack(result.config), undefined);
    });

    const cases: [string, (v: Editable) => void, RegExp][] = [
        ["a node count of 0", (v) => (v.nodes.count = 0), /^Pulumi\.alpha\.yaml:14:12: fleet:nodes\.count: must be >= 1 \(got 0\)$/],
        ["an engine RDS is not allowed to be here", (v) => (v.database = { ...v.database, engine: "oracle" }), /^Pulumi\.alpha\.yaml:24:13: fleet:database\.engine: must be one of "postgres", "mysql" \(got "oracle"\)$/],
        ["a typo'd key", (v) => (v.nodes.cuont = 2), /^Pulumi\.alpha\.yaml:\d+:\d+: fleet:nodes: unknown key "cuont"$/],
        ["a bad admin CIDR", (v) => (v.adminCidrs = ["10.0.0.0/33"]), /^Pulumi\.alpha\.yaml:12:7: fleet:adminCidrs\[0\]: must be an IPv4 CIDR like 203\.0\.113\.0\/24 \(got "10\.0\.0\.0\/33"\)$/],
        ["no admin CIDR", (v) => (v.adminCidrs = []), /fleet:adminCidrs: must be at least 1 item\(s\) \(got \[\]\)$/],
        ["an unpinned AMI", (v) => (v.nodes.ami = "latest"), /fleet:nodes\.ami: must be a pinned AMI id/],
        ["a string count", (v) => (v.nodes.count = "three"), /fleet:nodes\.count: must be a number \(got "three"\)$/],
        ["a missing section", (v) => delete v.database, /^Pulumi\.alpha\.yaml:\d+:\d+: fleet:database: is required \(missing\)$/],
        ["an unknown recovery source", (v) => (v.recovery = { replaces: "production", database: { from: "tape" } }), /fleet:recovery\.database\.from: .*snapshot.*latestSnapshot.*pointInTime/],
        ["a snapshot recovery without the snapshot", (v) => (v.recovery = { replaces: "production", database: { from: "snapshot" } }), /fleet:recovery\.database\.snapshot: is required \(missing\)$/],
        ["a point in time that is not a time", (v) => (v.recovery = { replaces: "production", database: { from: "pointInTime", source: "fleet-production", time: "yesterday" } }), /fleet:recovery\.database\.time: .*\(got "yesterday"\)$/],
        ["media recovery without a replica region", (v) => (v.recovery = { replaces: "production" }), /fleet:recovery\.media: "replica" needs fleet:storage\.replicationRegion/],
        ["backups replicated into their own region", (v) => (v.database = { ...v.database, backupReplicationRegion: "eu-west-1" }), /fleet:database\.backupReplicationRegion: must differ from aws:region eu-west-1/],
        ["a recovery that replaces itself", (v) => (v.recovery = { replaces: "alpha", media: "empty" }), /fleet:recovery\.replaces: must name the stack being replaced/],
        ["a recovery that does not say what it replaces", (v) => (v.recovery = { media: "empty" }), /fleet:recovery\.replaces: is required \(missing\)$/],
        ["an unknown top-level key", (v) => (v.nodez = {}), /fleet:nodez: unknown key; allowed: fleet:network, .*fleet:recovery/],
        ["a log retention CloudWatch does not take", (v) => (v.logs = { retentionDays: 10 }), /^Pulumi\.alpha\.yaml(:\d+:\d+)?: fleet:logs\.retentionDays: must be a retention CloudWatch takes, in days: 1, 3, 5, 7, 14, 30, 60, .*, 3653 \(got 10\)$/],
        ["an unknown key of fleet:logs", (v) => (v.logs = { retention: 30 }), /fleet:logs: unknown key "retention"$/],
        ["a VPC too small for six subnets", (v) => (v.network.cidr = "10.0.0.0/24"), /fleet:network\.cidr: must be a CIDR of \/18 or larger/],
    ];
    for (const [what, edit, expected] of cases) {
        it(`reports ${what} as one line`, () => assert.match(errorFor(edit), expected));
    }

    it("reports a missing region", () => {
        const { values } = stackFile("alpha");
        assert.equal(parseStackConfig({ stack: "alpha", values }).error, "Pulumi.alpha.yaml: aws:region: missing; set the AWS region, e.g. eu-west-1");
    });

    it("accepts each recovery source", () => {
        const sources = [
            { from: "snapshot", snapshot: "arn:aws:rds:eu-west-1:123456789012:snapshot:fleet-production-final" },
            { from: "latestSnapshot", sourceInstance: "fleet-production" },
            { from: "pointInTime", source: "fleet-production", time: "2026-11-26T03:00:00Z" },
            { from: "pointInTime", source: "arn:aws:rds:eu-central-1:123456789012:auto-backup:ab-abc123" },
        ];
        for (const database of sources) {
            const { values } = stackFile("production");
            values.recovery = { replaces: "production", database, tags: "latest" };
            // recovering INTO eu-central-1: backups now replicate elsewhere
            values.database = { ...(values.database as object), backupReplicationRegion: "eu-north-1" };
            const result = parseStackConfig({ stack: "production-dr", region: "eu-central-1", values });
            assert.ok(result.config, result.error);
            assert.deepEqual(result.config.recovery?.database, database);
            assert.equal(result.config.recovery?.tags, "latest");
            assert.equal(result.config.recovery?.media, "replica");
            assert.equal(catalogStack(result.config), "production");
            assert.equal(deployTag(result.config, "v1.2.0"), "latest");
            assert.equal(mediaFromStack(result.config), "production");
        }
    });
});

describe("loadStackConfig (inside a Pulumi program)", function () {
    this.timeout(60000);
    const worker = path.join(__dirname, "..", "helpers", "loadConfigWorker.ts");
    const run = (stack: string, overrides: Record<string, unknown> = {}) =>
        spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", worker, stack, JSON.stringify(overrides)], { cwd: PROJECT_DIR, encoding: "utf8" });

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
