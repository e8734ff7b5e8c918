// Runs infrastructure components under Pulumi's runtime mocks and records every resource they
// register (type, name, parent, dependencies, inputs with secrets masked), in the same shape
// as the offline plan, so the policy rules can be applied to it.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { FleetMocks } from "../../offline/mocks";
import { decodeWire, recordUnderMocks, Recorder, Registration, settle } from "../../offline/recorder";
import { ALL_OVERRIDES, AppForStack } from "../../config/catalog";
import { StackConfig } from "../../config/stackConfig";
import { checkStack, parseStackFile, StackReport } from "../../config/stackFile";
import { knownStacks } from "../../config/stackFiles";
import { PolicyRecord } from "../../policy/rules";
import { appKeyPair } from "../../render/sshKeyPair";

export const PROJECT_DIR = path.resolve(__dirname, "../..");
export const REGION = "eu-west-1";

export interface Recorded extends PolicyRecord {
  urn: string;
  parent: string;
  dependsOn: string[];
  protect: boolean;
  ignoreChanges: string[];
  /** Input paths (dotted) whose values were secrets. */
  secretPaths: string[];
  /** Inputs with secrets revealed (to prove where they went). */
  revealed: Record<string, unknown>;
}

/** The plan's mocks plus the RDS snapshot lookup a recovery config makes. */
class InfraMocks extends FleetMocks {
  call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
    if (args.token === "aws:rds/getSnapshot:getSnapshot") {
      const source = String(args.inputs.dbInstanceIdentifier);
      const id = `rds:${source}-2026-11-26-03-10`;
      return {
        id,
        dbSnapshotIdentifier: id,
        dbSnapshotArn: `arn:aws:rds:${REGION}:123456789012:snapshot:${id}`,
        dbInstanceIdentifier: source,
      };
    }
    return super.call(args);
  }
}

let recorder: Recorder | undefined;

/** (Re)installs the mocks and the recorder: call at module top and in before() (other test files set their own mocks). */
export function installMocks(): void {
  recorder = recordUnderMocks(
    (secretOutputs) => new InfraMocks({ region: REGION, addresses: {}, overrides: {}, secretOutputs }),
    "fleet",
    "infra-test",
  );
}

function recorded(r: Registration): Recorded {
  const secretPaths: string[] = [];
  return {
    urn: r.urn,
    type: r.type,
    name: r.name,
    parent: r.parent,
    protect: r.protect,
    ignoreChanges: r.ignoreChanges,
    dependsOn: r.dependsOn,
    inputs: decodeWire(r.wire, false, secretPaths) as Record<string, unknown>,
    revealed: decodeWire(r.wire, true) as Record<string, unknown>,
    secretPaths,
  };
}

/** Builds something and returns it with every resource it registered. */
export async function recordBuild<T>(build: () => T): Promise<{ value: T; resources: Recorded[] }> {
  if (!recorder) throw new Error("installMocks() first");
  recorder.drain();
  const value = build();
  await settle();
  return { value, resources: recorder.drain().map(recorded) };
}

/** The resolved value of an Output (or plain value). */
export function valueOf<T>(o: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) =>
    pulumi.output(o).apply((v) => {
      resolve(v as T);
      return v;
    }),
  );
}

/**
 * A real stack file (Pulumi.<file>.yaml) checked by the program's reader as stack `stack` (a
 * recovery stack made from production's file, say), its values changed by `edit` first: the
 * `config:` keys ("fleet:nodes", "aws:region") as the engine would pass them.
 */
export function checkStackFileAs(
  file: string,
  edit: (values: Record<string, unknown>) => void = () => undefined,
  stack = file,
): StackReport {
  const doc = parseStackFile(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${file}.yaml`), "utf8"), `Pulumi.${file}.yaml`);
  const values = structuredClone(doc.values);
  edit(values);
  return checkStack(doc, { stack, knownStacks: knownStacks(PROJECT_DIR) }, values);
}

/** A real stack file's infrastructure settings, as the program would read them; `overrides` replace fleet:* sections. */
export function stackConfigFromFile(file: string, overrides: Record<string, unknown> = {}, stack = file): StackConfig {
  const report = checkStackFileAs(file, (values) => Object.entries(overrides).forEach(([k, v]) => (values[`fleet:${k}`] = v)), stack);
  if (!report.settings) throw new Error(report.errors.join("\n"));
  return report.settings.infra;
}

/** Apps as the catalog gives them for a stack (only what the infrastructure reads matters here). */
export function sampleApps(): AppForStack[] {
  const app = (name: string, port: number): AppForStack => ({
    name,
    repo: `uni/${name}`,
    domain: `${name}.example.edu`,
    settings: `${name}.settings`,
    wsgi: `${name}.wsgi:application`,
    migrations: true,
    tags: { alpha: "v1.0.0", production: "v1.0.0" },
    env: {},
    secrets: [],
    healthCheck: "/",
    keepReleases: 5,
    port,
    tag: "v1.0.0",
    acknowledgeMigrations: [],
    overrides: ALL_OVERRIDES,
    deployChecks: "warn",
  });
  return [app("blog", 8101), app("wiki", 8102)];
}

export const byType = (resources: Recorded[], type: string) => resources.filter((r) => r.type === type);
export const named = (resources: Recorded[], type: string, name: string): Recorded => {
  const found = resources.find((r) => r.type === type && r.name === name);
  if (!found)
    throw new Error(
      `no ${type} named ${name}; have: ${byType(resources, type)
        .map((r) => r.name)
        .join(", ")}`,
    );
  return found;
};

/** An app's public key as components/app/appKeys.ts makes it (a fixed seed): what buildInfrastructure's nginx hosts let publish. */
export function samplePublicKey(app: string): string {
  return appKeyPair(Buffer.alloc(32, 1), app).publicKeyOpenssh.trim();
}
