// An existing stack upgrades to the merged steps without running the old steps' delete commands:
// each merged step carries the old step's name as an alias (Pulumi then moves the old state to it
// instead of deleting it), on the same host, so the connection (replaceOnChanges) is the same and
// the old step is updated, never replaced. Runtime mocks; the aliases are read off the requests
// the SDK sends to the engine.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { AppDeployment } from "../../components/app/appDeployment";
import { HostScripts } from "../../components/app/hostScripts";
import { DEFAULT_DEPLOY_SETTINGS } from "../../config/deployConfig";
import { DEFAULT_GITHUB_CONFIG, githubSettings } from "../../config/githubConfig";
import type { FleetHost } from "../../components/infra/machine";
import { installMocks, recordBuild, sampleApps } from "../helpers/infraHarness";

interface AliasRequest {
  getName(): string;
  getAliasesList?(): { getUrn(): string; getSpec(): { getName(): string; getParenturn(): string } | undefined }[];
  getAliasurnsList?(): string[];
}

/** Resource name -> the names it is aliased from, as the SDK sends them (alias specs or URNs);
 *  `formerParents`: resource name -> the parent URNs it is aliased from. */
function captureAliases(formerParents = new Map<string, string[]>()): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const monitor = (
    pulumi.runtime as unknown as { getMonitor(): { registerResource(req: AliasRequest, cb: unknown): unknown } }
  ).getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: AliasRequest, cb: unknown) => {
    const specs = (req.getAliasesList?.() ?? []).map((a) => a.getSpec()?.getName() || a.getUrn().split("::").pop() || "");
    const urns = (req.getAliasurnsList?.() ?? []).map((u) => u.split("::").pop() ?? "");
    seen.set(req.getName(), [...specs, ...urns].filter(Boolean));
    formerParents.set(req.getName(), (req.getAliasesList?.() ?? []).map((a) => a.getSpec()?.getParenturn() ?? "").filter(Boolean));
    return register(req, cb);
  };
  return seen;
}

const host = (name: string, ip: string): FleetHost => ({
  name,
  privateIp: ip,
  connection: { host: ip, user: "deploy", privateKey: pulumi.secret("KEY") },
});

describe("upgrading a stack deployed with the unmerged steps", function () {
  this.timeout(60_000);
  let aliases: Map<string, string[]>;
  let hosts: Map<string, string>;
  let deletes: Map<string, string | undefined>;
  const formerParents = new Map<string, string[]>();
  let githubResources: string[];

  before(async () => {
    installMocks();
    aliases = captureAliases(formerParents);
    const nodes = [host("node-1", "10.0.1.11"), host("node-2", "10.0.2.12")];
    const staticHost = host("static-host", "10.0.0.5");
    const app = { ...sampleApps()[0], name: "polls", migrations: true };
    const { resources } = await recordBuild(() => {
      const scripts = [...nodes, staticHost].map((h) => new HostScripts(h, "deploy"));
      return new AppDeployment("polls", {
        app,
        nodes,
        edgeHosts: [staticHost],
        scripts,
        database: {
          engine: "postgres",
          address: "db.internal",
          port: 5432,
          masterUsername: "fleetadmin",
          masterPassword: pulumi.secret("pw"),
        },
        media: { bucket: "b", region: "eu-west-1" },
        repository: {
          repo: "uni-it/polls",
          stack: "production",
          github: githubSettings({ ...DEFAULT_GITHUB_CONFIG, manageRepositories: true }, "uni-it"),
          publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleet fleet-polls",
        },
        publishKey: pulumi.secret("PUBLISH-KEY"),
        settings: DEFAULT_DEPLOY_SETTINGS,
      });
    });
    githubResources = resources
      .filter((r) => r.type.startsWith("github:"))
      .map((r) => r.name)
      .sort();
    hosts = new Map(
      resources
        .filter((r) => r.type === "command:remote:Command")
        .map((r) => [r.name, String((r.revealed.connection as { host: string }).host)]),
    );
    deletes = new Map(
      resources.filter((r) => r.type === "command:remote:Command").map((r) => [r.name, r.revealed.delete as string | undefined]),
    );
  });

  it("the install steps take over the prepare steps (whose delete removes the app's user and home)", () => {
    assert.deepEqual(aliases.get("polls-install-node-1"), ["polls-prepare-node-1"]);
    assert.deepEqual(aliases.get("polls-install-node-2"), ["polls-prepare-node-2"]);
    assert.equal(hosts.get("polls-install-node-2"), "10.0.2.12", "on the prepare step's own host");
  });

  it("the publish step takes over the webroot step (whose delete removed the static files) and has no delete of its own", () => {
    assert.deepEqual(aliases.get("polls-publish"), ["polls-webroot"]);
    // It runs on the first node now; its trigger stays the nginx host's (tests/unit/rolloutPlan.test.ts),
    // so the upgrade updates the state it takes over instead of replacing it (a replacement would
    // run the old delete, webroot.sh --remove, after the new files were published).
    assert.equal(hosts.get("polls-publish"), "10.0.1.11");
    assert.equal(deletes.get("polls-publish"), undefined);
  });

  it("the GitHub resources keep the state they had under the AppRepository component", () => {
    assert.deepEqual(githubResources, [
      "polls-alpha",
      "polls-default-branch",
      "polls-deploy-key",
      "polls-develop",
      "polls-production",
      "polls-protected-branches",
      "polls-release-tags",
    ]);
    for (const name of githubResources) {
      assert.deepEqual(
        formerParents.get(name)?.map((u) => u.split("::").slice(-2).join("::")),
        ["fleet:github:AppRepository::polls"],
        name,
      );
    }
  });

  it("no other step is aliased, and no new step has an old step's name (Pulumi matches names before aliases)", () => {
    const aliased = [...aliases]
      .filter(([, a]) => a.length > 0)
      .map(([n]) => n)
      .sort();
    assert.deepEqual(aliased, ["polls-install-node-1", "polls-install-node-2", "polls-publish"]);
    const old = /^polls-(prepare|stage|static|webroot|prune|wait|copy)-?/;
    for (const name of hosts.keys()) assert.ok(!old.test(name), name);
    // The old per-app scripts directories (/srv/fleet/<app>, removed by the old wait steps'
    // delete) cannot hold the new one: `_` is in no app name.
    assert.ok(!hosts.has("polls-wait-node-1"));
  });
});
