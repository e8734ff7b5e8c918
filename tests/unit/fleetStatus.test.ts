import { strict as assert } from "assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { AppForStack } from "../../config/catalog";
import {
  Deployment,
  edgeStatusCommand,
  FleetReading,
  Inventory,
  inventoryOf,
  NodeApp,
  nodeStatusCommand,
  readFleet,
  renderStatus,
  servingOf,
  statusReport,
} from "../../rollout/fleetStatus";
import { deploymentOf } from "../../cli/status";
import { MAINTENANCE_MARKER, renderNginxFiles, renderServerNames, SERVER_NAMES_FILE } from "../../render/nginx";
import { STATUS_SCRIPT, statusScript } from "../../node/scripts";

const COMMIT1 = "1".repeat(40);
const COMMIT2 = "2".repeat(40);
const conn = (host: string) => ({ host, user: "deploy", privateKey: "KEY" });

function deployment(): Deployment {
  return {
    resources: ["node-1", "node-2", "static-host"].map((h) => ({
      name: `${h}-scripts-copy`,
      type: "command:remote:CopyToRemote",
      inputs: { connection: conn(h) },
    })),
    outputs: {
      infrastructure: { nodeAddresses: { "node-1": "10.0.0.11", "node-2": "10.0.0.12" }, edgeHosts: { "static-host": "10.0.0.10" } },
      serving: { polls: { tag: "v1", commit: COMMIT1 } },
    },
  };
}

const polls = { name: "polls", port: 8123, domain: "polls.example.edu", healthCheck: "/healthz", tag: "v1" } as AppForStack;
const inventory = (): Inventory => inventoryOf("alpha", deployment(), [polls]);

const good = (over: Partial<NodeApp> = {}): NodeApp => ({
  tag: "v1",
  commit: COMMIT1,
  previous: null,
  processes: "running",
  health: "ok",
  pendingSwitch: false,
  ...over,
});
function reading(
  node1: Partial<NodeApp> = {},
  node2: Partial<NodeApp> = {},
  upstream = ["10.0.0.11:8123", "10.0.0.12:8123"],
): FleetReading {
  return {
    nodes: { "node-1": { ok: true, value: { app_polls: good(node1) } }, "node-2": { ok: true, value: { app_polls: good(node2) } } },
    edges: { "static-host": { ok: true, value: { polls: { upstream, weights: {}, maintenance: false } } } },
  };
}

describe("status: the inventory of a stack's last deployment", () => {
  it("takes the hosts from the infrastructure output, each with its scripts-copy step's connection, and what serving recorded", () => {
    const inv = inventory();
    assert.deepEqual(inv.nodes, [
      { name: "node-1", address: "10.0.0.11", connection: conn("node-1") },
      { name: "node-2", address: "10.0.0.12", connection: conn("node-2") },
    ]);
    assert.deepEqual(
      inv.edges.map((e) => e.name),
      ["static-host"],
    );
    assert.deepEqual(inv.apps, [
      {
        name: "polls",
        user: "app_polls",
        port: 8123,
        domain: "polls.example.edu",
        healthCheck: "/healthz",
        catalogTag: "v1",
        deployed: { tag: "v1", commit: COMMIT1 },
      },
    ]);
  });

  it("refuses a deployment without hosts, and a host without a recorded connection, in one line", () => {
    assert.throws(
      () => inventoryOf("alpha", { resources: [], outputs: {} }, [polls]),
      /^Error: stack alpha: its last deployment has no infrastructure output .*was it ever deployed\?$/,
    );
    const d = deployment();
    d.resources = d.resources.slice(1);
    assert.throws(
      () => inventoryOf("alpha", d, [polls]),
      /no connection recorded for node-1 \(its node-1-scripts-copy step is not in the deployment\)/,
    );
  });

  it("reads a `pulumi stack export --show-secrets` (outputs on the Stack resource, secrets unwrapped) as a plan", () => {
    const sig = "4dabf18193072939515e22adb298388d";
    const exported = {
      version: 3,
      deployment: {
        resources: [
          { urn: "urn:pulumi:alpha::fleet::pulumi:pulumi:Stack::fleet-alpha", type: "pulumi:pulumi:Stack", outputs: deployment().outputs },
          {
            urn: "urn:pulumi:alpha::fleet::fleet:app:HostScripts$command:remote:CopyToRemote::node-1-scripts-copy",
            type: "command:remote:CopyToRemote",
            inputs: { connection: { [sig]: "1b47061264138c4ac30d75fd1eb44270", plaintext: JSON.stringify(conn("node-1")) } },
          },
        ],
      },
    };
    const d = deploymentOf(exported);
    assert.deepEqual(d.outputs, deployment().outputs);
    assert.deepEqual(d.resources[1].inputs, { connection: conn("node-1") });
    assert.throws(() => deploymentOf({ something: 1 }), /neither a `pulumi stack export` nor a plan's JSON/);
  });
});

describe("status: the read-only commands", () => {
  it("reads a node as the deploy user (no sudo) with one spec per app (user, address, port, domain, health path), the script on stdin", () => {
    const inv = inventory();
    assert.equal(nodeStatusCommand(inv.nodes[0], inv.apps), "python3 - node /srv app_polls,10.0.0.11,8123,polls.example.edu,/healthz");
    assert.equal(edgeStatusCommand(), "python3 - edge /etc/nginx/conf.d '# fleet: maintenance' fleet-0-server-names.conf");
  });

  it("an unreadable host is a reading with its error, the others are read", async () => {
    const inv = inventory();
    const seen: string[] = [];
    const r = await readFleet(
      inv,
      async (host, command, stdin) => {
        seen.push(host.name);
        assert.equal(stdin, fs.readFileSync(STATUS_SCRIPT, "utf8"));
        if (host.name === "node-2") return { code: 255, stdout: "", stderr: "ssh: connect to host 10.0.0.12 port 22: No route to host\n" };
        return {
          code: 0,
          stdout: command.includes(" node ")
            ? JSON.stringify({ kind: "node", apps: { app_polls: good() } })
            : JSON.stringify({ kind: "edge", sites: {} }),
          stderr: "",
        };
      },
      statusScript(),
    );
    assert.deepEqual(seen.sort(), ["node-1", "node-2", "static-host"]);
    assert.deepEqual(r.nodes["node-2"], { ok: false, error: "ssh: connect to host 10.0.0.12 port 22: No route to host" });
    assert.deepEqual(servingOf(inv, r, "polls"), { "node-1": { tag: "v1", commit: COMMIT1 }, "node-2": { tag: null, commit: null } });
    assert.deepEqual(statusReport(inv, r).drift[0], "node-2: could not be read: ssh: connect to host 10.0.0.12 port 22: No route to host");
  });

  it("the script reads the upstreams of the server blocks nginx is given (render/nginx.ts), by node address", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-status-"));
    try {
      const files = renderNginxFiles(
        [
          { name: "polls", domain: "polls.example.edu", port: 8123 },
          { name: "wiki", domain: "wiki.example.edu", port: 8200, maintenance: true },
        ],
        { polls: ["10.0.0.12", "10.0.0.11"], wiki: ["10.0.0.11"] },
      );
      // As the sites step publishes them: the server-names file next to the sites.
      files[SERVER_NAMES_FILE] = renderServerNames(["polls.example.edu", "wiki.example.edu"]);
      for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
      const out = JSON.parse(
        execFileSync("python3", ["-", "edge", dir, MAINTENANCE_MARKER, SERVER_NAMES_FILE], {
          input: fs.readFileSync(STATUS_SCRIPT),
          encoding: "utf8",
        }),
      ) as { sites: Record<string, { upstream: string[]; maintenance: boolean }> };
      assert.deepEqual(Object.keys(out.sites).sort(), ["polls", "wiki"]);
      assert.deepEqual(out.sites.polls.upstream, ["10.0.0.11:8123", "10.0.0.12:8123"]);
      assert.deepEqual(out.sites.wiki.upstream, ["10.0.0.11:8200"]);
      assert.deepEqual([out.sites.polls.maintenance, out.sites.wiki.maintenance], [false, true]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("status: drift, one line each", () => {
  it("none when every node serves the deployed release, healthy, and every upstream lists them", () => {
    const report = statusReport(inventory(), reading());
    assert.deepEqual(report.drift, []);
    assert.deepEqual(report.apps[0].edges, { "static-host": { upstream: ["node-1", "node-2"], maintenance: false } });
    assert.match(renderStatus(report), /^ {2}node-1: v1 111111111111, gunicorn running, health ok$/m);
    assert.match(renderStatus(report), /\nno drift$/);
  });

  it("a node serving another tag (changed by hand): the node and app, and the release left half-switched", () => {
    const report = statusReport(inventory(), reading({}, { tag: "v0", commit: COMMIT2 }));
    assert.deepEqual(report.drift, [
      "polls on node-2: serves v0 (222222222222), the last deployment has v1",
      "polls: half-switched: node-1 serves v1; node-2 serves v0",
    ]);
  });

  it("a moved tag, a stopped gunicorn, a failing health check, a switch cut short", () => {
    const report = statusReport(
      inventory(),
      reading({ commit: COMMIT2, health: "HTTP 500" }, { processes: "failed", pendingSwitch: true }),
    );
    assert.deepEqual(report.drift, [
      "polls on node-1: serves v1 at commit 222222222222, the last deployment had 111111111111 (the tag was moved)",
      "polls on node-1: health check /healthz answers HTTP 500",
      "polls on node-2: a switch was cut short (.current.new is left): rerun the update",
      "polls on node-2: gunicorn is failed",
    ]);
  });

  it("a node missing from an upstream, an upstream entry that is no node, a site of no app", () => {
    const r = reading({}, {}, ["10.0.0.11:8123", "10.0.0.99:8123"]);
    (r.edges["static-host"] as { ok: true; value: Record<string, unknown> }).value.gone = { upstream: [], weights: {}, maintenance: false };
    assert.deepEqual(statusReport(inventory(), r).drift, [
      "polls on static-host: node-2 is missing from the upstream",
      "polls on static-host: the upstream lists 10.0.0.99:8123, which is no node of the stack",
      "static-host: serves a site for gone, which is no app of stack alpha",
    ]);
  });

  it("a tag pinned in apps.yaml but not deployed yet is pending, not drift", () => {
    const inv = inventoryOf("alpha", deployment(), [{ ...polls, tag: "v2" }]);
    const report = statusReport(inv, reading());
    assert.deepEqual(report.drift, []);
    assert.deepEqual(report.pending, ["polls: apps.yaml pins v2, the last deployment serves v1"]);
  });
});
