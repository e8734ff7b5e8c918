import { startCluster } from "./cluster";
(async () => {
  const t0 = Date.now();
  const c = await startCluster({ appNodeCount: Number(process.argv[2] ?? 2) });
  console.log(process.pid, "started in", (Date.now() - t0) / 1000, "s", c.staticHost.address, c.fixtureRepoPath);
  await new Promise((r) => setTimeout(r, Number(process.argv[3] ?? 1000)));
  await c.stop();
  console.log(process.pid, "stopped");
})().catch((e) => { console.error(e); process.exit(1); });
