// First-boot provisioning (render/cloudInit.ts): the node's own settings file, and that the
// rollout scripts read what it writes (lib.sh's heavy_jobs on the rendered file, for real).
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { renderCloudInit } from "../../render/cloudInit";
import { NODE_CONFIG_FILE } from "../../rollout/layout";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl deploy";
const DIR = path.join(__dirname, "..", "..", "node", "rollout");

interface WriteFile { path: string; permissions: string; content: string }
const filesOf = (text: string) => (parse(text) as { write_files: WriteFile[] }).write_files;

describe("cloud-init (render/cloudInit.ts)", () => {
  it("writes the node's heavyJobs into its config file, which lib.sh's heavy_jobs reads", () => {
    const file = filesOf(renderCloudInit({ role: "app-node", deployPublicKey: KEY, heavyJobs: 3 })).find((f) => f.path === NODE_CONFIG_FILE);
    assert.ok(file, `no ${NODE_CONFIG_FILE}`);
    assert.equal(file.permissions, "0644");
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-node-conf-"));
    try {
      fs.writeFileSync(path.join(tmp, "node.conf"), file.content);
      const r = spawnSync("sh", ["-euc", `here='${DIR}'; . "$here/lib.sh"; FLEET_NODE_CONFIG='${tmp}/node.conf'; heavy_jobs`], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, "3\n");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("writes no config file when heavyJobs is 0 or absent: the user data of such nodes is unchanged", () => {
    const plain = renderCloudInit({ role: "app-node", deployPublicKey: KEY });
    assert.equal(renderCloudInit({ role: "app-node", deployPublicKey: KEY, heavyJobs: 0 }), plain);
    assert.deepEqual(filesOf(plain).map((f) => f.path), ["/etc/systemd/system/gunicorn@.service"]);
    assert.ok(!filesOf(renderCloudInit({ role: "static-host", deployPublicKey: KEY, heavyJobs: 3 })).some((f) => f.path === NODE_CONFIG_FILE), "the nginx host stages nothing");
  });
});
