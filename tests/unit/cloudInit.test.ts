// First-boot provisioning (render/cloudInit.ts): the node's own settings file, and that the
// rollout scripts read what it writes (lib.sh's heavy_jobs on the rendered file, for real).
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { DEPLOY_SUDOERS_FILE, DEPLOY_USER, renderCloudInit } from "../../render/cloudInit";
import { NODE_CONFIG_FILE, NODE_HELPER } from "../../rollout/layout";
import { appNodeSources } from "../../node/scripts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy";
/** The files as the program reads them (node/scripts.ts): the renderer is pure. */
const SOURCES = appNodeSources();
const DIR = path.join(__dirname, "..", "..", "node", "rollout");

interface WriteFile {
  path: string;
  permissions: string;
  content: string;
}
const filesOf = (text: string) => (parse(text) as { write_files: WriteFile[] }).write_files;
const deployUserOf = (text: string) =>
  (parse(text) as { users: (string | Record<string, unknown>)[] }).users.find(
    (u) => typeof u === "object" && u.name === DEPLOY_USER,
  ) as Record<string, unknown>;

describe("cloud-init (render/cloudInit.ts)", () => {
  it("writes the node's heavyJobs into its config file, which lib.sh's heavy_jobs reads", () => {
    const file = filesOf(renderCloudInit({ role: "app-node", deployPublicKey: KEY, heavyJobs: 3 }, SOURCES)).find(
      (f) => f.path === NODE_CONFIG_FILE,
    );
    assert.ok(file, `no ${NODE_CONFIG_FILE}`);
    assert.equal(file.permissions, "0644");
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-node-conf-"));
    try {
      fs.writeFileSync(path.join(tmp, "node.conf"), file.content);
      const r = spawnSync("sh", ["-euc", `here='${DIR}'; . "$here/lib.sh"; FLEET_NODE_CONFIG='${tmp}/node.conf'; heavy_jobs`], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "3\n");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("writes no config file when heavyJobs is 0 or absent: the user data of such nodes is unchanged", () => {
    const plain = renderCloudInit({ role: "app-node", deployPublicKey: KEY }, SOURCES);
    assert.equal(renderCloudInit({ role: "app-node", deployPublicKey: KEY, heavyJobs: 0 }, SOURCES), plain);
    assert.deepEqual(
      filesOf(plain).map((f) => f.path),
      ["/etc/systemd/system/gunicorn@.service", NODE_HELPER, DEPLOY_SUDOERS_FILE],
    );
    assert.ok(
      !filesOf(renderCloudInit({ role: "static-host", deployPublicKey: KEY, heavyJobs: 3 }, SOURCES)).some(
        (f) => f.path === NODE_CONFIG_FILE,
      ),
      "the nginx host stages nothing",
    );
  });

  it("gives an app node's deploy user one sudo right: the root-owned node helper, rendered with the layout", () => {
    const text = renderCloudInit({ role: "app-node", deployPublicKey: KEY }, SOURCES);
    assert.equal(deployUserOf(text).sudo, undefined, "no cloud-init sudo rule of its own");
    const sudoers = filesOf(text).find((f) => f.path === DEPLOY_SUDOERS_FILE);
    assert.ok(sudoers);
    assert.equal(sudoers.permissions, "0440");
    assert.equal(
      sudoers.content,
      [
        "# fleet (render/cloudInit.ts): the deploy user may run /usr/local/sbin/fleet-node as root, and nothing else.",
        "Defaults:deploy env_reset",
        "deploy ALL=(root) NOPASSWD: /usr/local/sbin/fleet-node",
        "",
      ].join("\n"),
    );
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-sudoers-"));
    try {
      fs.writeFileSync(path.join(tmp, "sudoers"), sudoers.content);
      const check = spawnSync("visudo", ["-c", "-q", "-f", path.join(tmp, "sudoers")], { encoding: "utf8" });
      assert.equal(check.status, 0, check.stderr + check.stdout);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
    const helper = filesOf(text).find((f) => f.path === NODE_HELPER);
    assert.ok(helper);
    assert.equal(helper.permissions, "0755");
    assert.match(helper.content, /^#!\/usr\/bin\/python3 -I\n/);
    assert.doesNotMatch(helper.content, /@[A-Z_]+@/, "a placeholder left");
    assert.match(helper.content, /^APPS_ROOT = "\/srv"$/m);
    assert.match(helper.content, /^OS_USER = re\.compile\(r"app_\[a-z\]\[a-z0-9-\]\{1,25\}\[a-z0-9\]"\)$/m);
  });

  it("leaves the nginx hosts' deploy user as it was (no app code runs there)", () => {
    const text = renderCloudInit({ role: "static-host", deployPublicKey: KEY }, SOURCES);
    assert.equal(deployUserOf(text).sudo, "ALL=(ALL) NOPASSWD:ALL");
    assert.ok(!filesOf(text).some((f) => f.path === DEPLOY_SUDOERS_FILE || f.path === NODE_HELPER));
  });
});
