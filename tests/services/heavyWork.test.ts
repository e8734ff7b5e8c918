// lib.sh's heavy-work slots on this machine: real sh, real flock(1), real processes. The same
// function runs on the nodes (tests/e2e/heavyWork.test.ts stages apps through it).
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { summarizeHeavyLog } from "../../testbed/heavyWork";

const DIR = path.join(__dirname, "..", "..", "node", "rollout");

describe("node scripts: heavy-work slots (lib.sh heavy)", function () {
  this.timeout(60_000);
  let tmp = "";
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-heavy-"));
    fs.mkdirSync(path.join(tmp, "slots"));
    fs.mkdirSync(path.join(tmp, "log"));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A script that sources lib.sh with this test's node config, slots and log, then runs `body`. */
  const script = (body: string) =>
    [
      "set -eu",
      `here='${DIR}'`,
      '. "$here/lib.sh"',
      `FLEET_NODE_CONFIG='${tmp}/node.conf' FLEET_HEAVY_SLOTS='${tmp}/slots' FLEET_HEAVY_LOG='${tmp}/log/heavy.log'`,
      "APP_NAME=demo tag=v1",
      body,
    ].join("\n");
  const log = () => fs.readFileSync(path.join(tmp, "log", "heavy.log"), "utf8");
  const runAsync = (body: string) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = spawn("sh", ["-c", script(body)], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => resolve({ code: code ?? 255, stderr }));
    });

  it("the node's HEAVY_JOBS, else the CPU count (no file, no line, 0, not a number)", () => {
    const jobs = (conf?: string) => {
      if (conf === undefined) fs.rmSync(path.join(tmp, "node.conf"), { force: true });
      else fs.writeFileSync(path.join(tmp, "node.conf"), conf);
      const r = spawnSync("sh", ["-c", script("heavy_jobs")], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      return Number(r.stdout.trim());
    };
    const cpus = Number(spawnSync("nproc", { encoding: "utf8" }).stdout.trim());
    assert.equal(jobs("# fleet\nHEAVY_JOBS=3\n"), 3);
    assert.equal(jobs(undefined), cpus);
    assert.equal(jobs("OTHER=1\n"), cpus);
    assert.equal(jobs("HEAVY_JOBS=0\n"), cpus);
    assert.equal(jobs("HEAVY_JOBS=two\n"), cpus);
  });

  it("6 at once with HEAVY_JOBS=2: never more than 2 run, all succeed, each waiting one says so once", async () => {
    fs.writeFileSync(path.join(tmp, "node.conf"), "HEAVY_JOBS=2\n");
    const runs = await Promise.all(Array.from({ length: 6 }, () => runAsync("heavy work sleep 1")));
    assert.deepEqual(
      runs.map((r) => r.code),
      [0, 0, 0, 0, 0, 0],
      runs.map((r) => r.stderr).join("\n"),
    );
    const waits = runs.map(
      (r) => r.stderr.split("\n").filter((l) => l === "fleet: demo v1: work waiting for one of 2 heavy-work slots").length,
    );
    // Each job takes a second and all six start together: four wait, each polls several times
    // and says so once.
    assert.deepEqual(waits.sort(), [0, 0, 1, 1, 1, 1]);
    assert.deepEqual(summarizeHeavyLog(log()), { started: 6, ended: 6, peak: 2, highestSlot: 2 });
  });

  it("a failing command keeps its status and message, logs its end and frees its slot", () => {
    fs.writeFileSync(path.join(tmp, "node.conf"), "HEAVY_JOBS=1\n");
    const r = spawnSync("sh", ["-c", script('heavy broken die "demo v1: it broke" || echo "status $?"\nheavy after true\necho done')], {
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "status 1\ndone\n");
    assert.match(r.stderr, /^fleet: error: demo v1: it broke$/m);
    assert.deepEqual(summarizeHeavyLog(log()), { started: 2, ended: 2, peak: 1, highestSlot: 1 });
  });

  it("a killed step frees its slot, a killed waiter its place in the queue: nobody cleans up, the next one gets it", async () => {
    fs.writeFileSync(path.join(tmp, "node.conf"), "HEAVY_JOBS=1\n");
    const holder = spawn("sh", ["-c", script("heavy hold sleep 60")], { stdio: "ignore", detached: true });
    const deadline = Date.now() + 10_000;
    while (!(fs.existsSync(path.join(tmp, "log", "heavy.log")) && log().includes(" start 1 demo hold"))) {
      assert.ok(Date.now() < deadline, "the holder never took its slot");
      await new Promise((r) => setTimeout(r, 50));
    }
    // A second step waits, holding the waiters' queue; it is killed too.
    const waiterLog = path.join(tmp, "waiter.err");
    const waiter = spawn("sh", ["-c", `${script("heavy wait true")} 2>'${waiterLog}'`], { stdio: "ignore", detached: true });
    while (!(fs.existsSync(waiterLog) && fs.readFileSync(waiterLog, "utf8").includes("waiting for one of 1 heavy-work slots"))) {
      assert.ok(Date.now() < deadline, "the second step never waited");
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300)); // past its flock on the queue
    // Each whole step, as when its session dies: the script and the command it runs.
    process.kill(-holder.pid!, "SIGKILL");
    process.kill(-waiter.pid!, "SIGKILL");
    const next = spawnSync("sh", ["-c", script("heavy next true\necho got it")], { encoding: "utf8", timeout: 20_000 });
    assert.equal(next.status, 0, `${next.error?.message ?? ""} ${next.stderr}`);
    assert.equal(next.stdout, "got it\n");
    const s = summarizeHeavyLog(log());
    assert.deepEqual([s.started, s.ended], [2, 1], "the killed one never logged its end");
  });
});
