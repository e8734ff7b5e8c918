/**
 * Real local machines for the e2e tests: app nodes and an nginx host, each a real
 * OpenSSH server in its own namespaces, plus a real PostgreSQL and the git repositories
 * the apps deploy from (the Django fixture, or any given repository). Nothing here is a mock: the deployment's commands run over SSH against
 * these nodes exactly as they would against EC2 instances.
 *
 * Layout of one cluster (slot N, so several test runs can share the machine):
 *   bridge fe2eNbr 10.213.N.1/24   the "VPC"; PostgreSQL listens here (the "RDS")
 *   static host    10.213.N.10     sshd + nginx
 *   static-k       10.213.N.(220+k) sshd + nginx, nginx host k >= 2 (staticHostCount)
 *   node-i         10.213.N.(10+i) sshd
 *   balancer       10.213.N.1:80, :443  haproxy on the host side of the bridge, with two or more
 *                  nginx hosts: what the AWS Network Load Balancer does (testbed/balancer.ts)
 *   state          /var/lib/fleet-e2e/cluster-N-<netns> (keys, fixture repo, database, logs)
 * Each node is testbed/node-init.sh running as PID 1 of new PID, mount, network,
 * UTS and IPC namespaces (see that script for what is private to a node). By default
 * (`init: "systemd"`, as production's nodes) the app nodes' PID 1 then becomes systemd
 * (testbed/node-systemd.sh), in a cgroup namespace of its own: cgroup2
 * fleet-e2e-N-<netns>-<node>, removed when the node stops; `init: "plain"` leaves sshd PID 1.
 *
 * Needs root and the Debian packages of .ci/install-debian-packages.sh.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { NGINX_CONF_DIR } from "../rollout/layout";
import { Balancer, startBalancer } from "./balancer";

export interface NodeHandle {
  name: string;
  address: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What runs as an app node's PID 1: sshd alone, or systemd running sshd as a service. */
export type NodeInit = "plain" | "systemd";
export const NODE_INITS: readonly NodeInit[] = ["plain", "systemd"];

export interface Cluster {
  appNodes: NodeHandle[];
  /** Machines started beside the app nodes, for a stack to take on as new nodes (a replacement, a
   *  larger count): like app nodes in every way, but no stack uses them until it is told to. */
  spareNodes: NodeHandle[];
  /** The app nodes' process manager (ClusterOptions.init). */
  init: NodeInit;
  /** nginx runs here, listening on <address>:80; sites go into nginxConfDir. Host 1 of staticHosts. */
  staticHost: NodeHandle;
  /** Every nginx host (staticHostCount of them), host 1 first. */
  staticHosts: NodeHandle[];
  /** With two or more nginx hosts: the TCP balancer in front of them. */
  balancer?: Balancer;
  /** Non-root, key login only, passwordless sudo. */
  sshUser: string;
  sshPort: number;
  /** OpenSSH-format ed25519 private key of sshUser. */
  privateKeyPem: string;
  /** The same key as a file (mode 600), for the ssh command-line client. */
  privateKeyPath: string;
  /** Where the static host's nginx includes site files from (`include conf.d/*.conf`). */
  nginxConfDir: string;
  postgres: {
    host: string;
    port: number;
    superuser: string;
    setSuperuserPassword(pw: string): Promise<void>;
  };
  /** Bare git repository of the Django fixture (tags v1..v11), readable on every node; throws
   *  when the cluster was started with other repositories instead. */
  fixtureRepoPath: string;
  /** owner/name -> the bare repository the cluster serves for it, readable on every node. */
  repositories: Record<string, string>;
  /**
   * The stand-in for https://github.com: `${gitBaseUrl}/<owner>/<name>.git` is the repository
   * served for `owner/name` (by default the fixture as uni-it/polls), so a catalog entry's
   * `repo:` maps onto it.
   */
  gitBaseUrl: string;
  /** Serves the fixture also as each of `repos` (owner/name): a fleet of fixture apps, one
   *  repository each, as the catalog requires (one app per repository). */
  serveFixtureAs(repos: string[]): void;
  /** Runs `sh -c command` inside the node's namespaces, as root or as opts.asUser. */
  exec(node: NodeHandle, command: string, opts?: { asUser?: string }): Promise<ExecResult>;
  /** Loses a machine at once: its PID 1 killed, every process, mount and its network gone with it. */
  kill(node: NodeHandle): Promise<void>;
  /** What the node's sshd logged so far (connections it dropped past MaxStartups, ...). */
  sshdLog(node: NodeHandle): string;
  /** Ends one machine as EC2 terminates an instance: every process on it dies at once. */
  terminate(node: NodeHandle): Promise<void>;
  /** Whether the machine runs (it was not terminated). */
  isRunning(node: NodeHandle): boolean;
  /** Kills everything the cluster started, removes its network and files. Idempotent. */
  stop(): Promise<void>;
}

const STATE_ROOT = "/var/lib/fleet-e2e";
const MAX_SLOTS = 32;
const SSH_USER = "deploy";
const SSH_PORT = 22;
const PG_PORT = 5432;
const PG_BIN = "/usr/lib/postgresql/15/bin";
const HERE = __dirname;
/** The environment of processes on the nodes: a machine's, not this test runner's. */
const NODE_ENV: NodeJS.ProcessEnv = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  LANG: "C.UTF-8",
};

interface Slot {
  index: number;
  dir: string;
  subnet: string; // "10.213.N"
  bridge: string;
  /** Prefix of this slot's node cgroups (systemd nodes), under the host's cgroup2 hierarchy. */
  cgroupPrefix: string;
  /** The claim on the slot (see holdSlot); closed last when the cluster stops. */
  holder: net.Server;
}

interface RunningNode {
  handle: NodeHandle;
  process: ChildProcess;
  /** Host PID of the node's PID 1 (what nsenter joins). */
  initPid: number;
  /** The node's cgroup2 directory (systemd nodes). */
  cgroup?: string;
}

/** Runs a program to completion; rejects with its stderr when it fails. */
function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? NODE_ENV, cwd: "/", stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const result = { code: code ?? 128, stdout, stderr };
      if (result.code !== 0 && !opts.allowFailure) {
        reject(new Error(`${cmd} ${args.join(" ")} failed (${signal ?? code}): ${stderr.trim()}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.on("error", () => undefined); // a program that ignores its input may exit first
    child.stdin.end(opts.input ?? "");
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How much longer than on an idle machine a wait of the test bed's own start and stop may take:
 * these waits end as soon as what they wait for happens, and the bounds only catch what never
 * will. Several e2e files run at once (npm test), beside whatever else the machine runs: a node's
 * sshd or a cgroup's last process then takes many times its idle time, which is no failure.
 */
const LOADED_MACHINE_FACTOR = 6;

async function waitFor<T>(what: string, idleTimeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + idleTimeoutMs * LOADED_MACHINE_FACTOR;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`e2e cluster: timed out waiting for ${what}`);
    await sleep(15);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Slot N's state lives in cluster-N-<network namespace>: the slot is a claim on the network
 * (bridge fe2eNbr, 10.213.N.0/24), so two runs in different network namespaces may both use N.
 */
function slotOf(index: number, holder: net.Server): Slot {
  const netns = /\d+/.exec(fs.readlinkSync("/proc/self/ns/net"))?.[0] ?? "0";
  return {
    index,
    dir: path.join(STATE_ROOT, `cluster-${index}-${netns}`),
    subnet: `10.213.${index}`,
    bridge: `fe2e${index}br`,
    cgroupPrefix: path.join(cgroup2Root(), `fleet-e2e-${index}-${netns}-`),
    holder,
  };
}

/**
 * Holds slot N for this process, or resolves undefined when another run holds it. The claim
 * is an abstract Unix socket: it lives in the network namespace, where the bridge and the
 * addresses it guards live, whatever PID or mount namespace each run is in (a CI sandbox
 * beside a developer's run sees neither the other's processes nor its files), and the kernel
 * drops it when its process dies, however it dies.
 */
function holdSlot(index: number): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" ? resolve(undefined) : reject(err)));
    server.listen(`\0fleet-e2e-slot-${index}`, () => resolve(server.unref()));
  });
}

/**
 * Removes what a dead run of this slot left behind (its processes died with it: see
 * pdeathsig): the bridge, host ends of veth pairs, the state directory.
 * Also the last step of a normal stop.
 */
async function removeSlot(slot: Slot): Promise<void> {
  await run("ip", ["link", "del", slot.bridge], { allowFailure: true });
  const links = await run("ip", ["-o", "link", "show"], { allowFailure: true });
  for (const name of links.stdout.matchAll(/^\d+: ([^:@\s]+)/gm)) {
    if (name[1].startsWith(`fe2e${slot.index}n`)) await run("ip", ["link", "del", name[1]], { allowFailure: true });
  }
  for (const name of fs.readdirSync(path.dirname(slot.cgroupPrefix))) {
    const dir = path.join(path.dirname(slot.cgroupPrefix), name);
    if (dir.startsWith(slot.cgroupPrefix)) await removeCgroup(dir);
  }
  fs.rmSync(slot.dir, { recursive: true, force: true });
  try {
    fs.rmdirSync(STATE_ROOT); // only when no other cluster is left
  } catch {
    // another cluster still runs: leave its home alone
  }
}

/** Claims the first free slot; whatever it holds is a dead run's and is removed first. */
async function claimSlot(): Promise<Slot> {
  for (let index = 0; index < MAX_SLOTS; index++) {
    const holder = await holdSlot(index);
    if (!holder) continue;
    const slot = slotOf(index, holder);
    await removeSlot(slot);
    fs.mkdirSync(slot.dir, { recursive: true, mode: 0o755 });
    fs.chmodSync(STATE_ROOT, 0o755);
    return slot;
  }
  throw new Error(`e2e cluster: all ${MAX_SLOTS} slots are held by other runs (abstract sockets @fleet-e2e-slot-N)`);
}

async function createBridge(slot: Slot): Promise<void> {
  await run("ip", ["link", "add", slot.bridge, "type", "bridge"]);
  await run("ip", ["addr", "add", `${slot.subnet}.1/24`, "dev", slot.bridge]);
  await run("ip", ["link", "set", slot.bridge, "up"]);
}

function nsLink(pid: number | "self"): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/**
 * A promise that rejects when a long-running child exits, with the end of its log
 * in the message (the log itself goes when the cluster's directory does). Used in
 * races during startup; later exits (stop) are expected and go unobserved.
 */
function exitAsError(child: ChildProcess, what: string, logFile: string): Promise<never> {
  const exited = new Promise<never>((_, reject) =>
    child.on("exit", (code, signal) => {
      const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").trim().split("\n").slice(-15).join("\n") : "";
      reject(new Error(`${what} exited (${signal ?? code}):\n${log}`));
    }),
  );
  exited.catch(() => undefined);
  return exited;
}

/**
 * The host's cgroup2 hierarchy: /sys/fs/cgroup/unified beside cgroup v1's controllers (this
 * machine), or /sys/fs/cgroup itself.
 */
function cgroup2Root(): string {
  const hybrid = "/sys/fs/cgroup/unified";
  return fs.existsSync(path.join(hybrid, "cgroup.procs")) ? hybrid : "/sys/fs/cgroup";
}

/** Whether this machine has the cgroup2 hierarchy systemd nodes need (mounted where cgroup2Root looks). */
export function hasCgroup2(mounts: string = fs.readFileSync("/proc/mounts", "utf8")): boolean {
  const root = cgroup2Root();
  return mounts.split("\n").some((line) => {
    const [, mountPoint, type] = line.split(" ");
    return type === "cgroup2" && mountPoint === root;
  });
}

/** Removes a cgroup2 directory and those under it (only empty ones can go: the deepest first). */
async function removeCgroup(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroup(path.join(dir, entry.name));
  }
  // The kernel lets a cgroup go once its last process is reaped, just after the node's end.
  await waitFor(`cgroup ${dir} to empty`, 5000, () => {
    try {
      fs.rmdirSync(dir);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
      return undefined;
    }
  });
}

/** Starts one node and waits until its sshd answers with a banner. */
async function startNode(
  slot: Slot,
  handle: NodeHandle,
  role: "app" | "static",
  hostNumber: number,
  init: NodeInit,
  sshdSettings: string[] = [],
): Promise<RunningNode> {
  const state = path.join(slot.dir, "nodes", handle.name);
  fs.mkdirSync(state, { recursive: true });
  const cgroup = init === "systemd" ? `${slot.cgroupPrefix}${handle.name}` : undefined;
  if (cgroup) {
    fs.mkdirSync(cgroup);
    fs.writeFileSync(path.join(state, "cgroup"), cgroup);
  }
  fs.copyFileSync(path.join(slot.dir, "keys", "deploy.pub"), path.join(state, "deploy.pub"));
  for (const file of ["hosts", "gitconfig"]) fs.copyFileSync(path.join(slot.dir, file), path.join(state, file));
  if (sshdSettings.length > 0) fs.writeFileSync(path.join(state, "sshd.conf"), sshdSettings.map((l) => `${l}\n`).join(""));
  const log = fs.openSync(path.join(state, "init.log"), "a");
  // setpriv --pdeathsig + unshare --kill-child: if this test process dies, the
  // node dies with it, whatever the way it ends.
  const child = spawn(
    "setpriv",
    [
      "--pdeathsig",
      "KILL",
      "--",
      "unshare",
      "--pid",
      "--fork",
      "--kill-child=SIGKILL",
      "--mount-proc",
      "--mount",
      "--propagation",
      "private",
      "--net",
      "--uts",
      "--ipc",
      "--",
      "/bin/sh",
      path.join(HERE, "node-init.sh"),
      handle.name,
      `${handle.address}/24`,
      role,
      SSH_USER,
      state,
      init,
    ],
    { env: NODE_ENV, cwd: "/", stdio: ["ignore", log, log] },
  );
  fs.closeSync(log);
  const exited = exitAsError(child, `e2e node ${handle.name}`, path.join(state, "init.log"));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`e2e node ${handle.name}: could not start unshare`);
  const hostNs = nsLink("self");
  // unshare switches namespaces just after exec: only then may the interface move in.
  await Promise.race([
    exited,
    waitFor(`${handle.name} namespaces`, 5000, () => {
      const ns = nsLink(pid);
      return ns && ns !== hostNs ? ns : undefined;
    }),
  ]);
  const hostIf = `fe2e${slot.index}n${hostNumber}`;
  await run("ip", ["link", "add", hostIf, "type", "veth", "peer", "name", "eth0", "netns", String(pid)]);
  await run("ip", ["link", "set", hostIf, "master", slot.bridge]);
  await run("ip", ["link", "set", hostIf, "up"]);
  const initPid = await Promise.race([
    exited,
    waitFor(`${handle.name} init process`, 5000, () => {
      const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim();
      return children ? Number(children.split(/\s+/)[0]) : undefined;
    }),
  ]);
  // 60 s: a systemd node boots in 2-3 s, but far longer on a machine shared by several test runs.
  await Promise.race([exited, waitFor(`sshd on ${handle.name}`, 60000, () => sshBanner(handle.address))]);
  return { handle, process: child, initPid, cgroup };
}

/** Resolves true once something at address:22 greets like an SSH server. */
function sshBanner(address: string): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port: SSH_PORT, timeout: 250 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok ? true : undefined);
    };
    socket.once("data", (d: Buffer) => done(d.toString().startsWith("SSH-2.0-")));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

async function makeKeys(slot: Slot): Promise<{ pem: string; path: string }> {
  const dir = path.join(slot.dir, "keys");
  fs.mkdirSync(dir, { mode: 0o700 });
  const key = path.join(dir, "deploy");
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "deploy@fleet-e2e", "-f", key]);
  fs.renameSync(`${key}.pub`, path.join(dir, "deploy.pub"));
  return { pem: fs.readFileSync(key, "utf8"), path: key };
}

/** The repository the e2e tests deploy: testbed/fixture, built by build-fixture.sh. */
export const FIXTURE_REPO = "uni-it/polls";

const servedPathOf = (slot: Slot, repo: string) => path.join(slot.dir, "git", ...repo.split("/")) + ".git";

/**
 * What the cluster's "GitHub" serves: the fixture, built by build-fixture.sh (sources
 * undefined), or bare clones of the given repositories (bare or not: a clone takes the
 * branches and tags, never a work tree's uncommitted files). Readable by every user on
 * every node (the deploy user, the app users).
 */
async function serveRepositories(slot: Slot, sources: Record<string, string> | undefined): Promise<Record<string, string>> {
  if (!sources) {
    const repo = servedPathOf(slot, FIXTURE_REPO);
    await run("/bin/sh", [path.join(HERE, "fixture", "build-fixture.sh"), repo]);
    return { [FIXTURE_REPO]: repo };
  }
  const served: Record<string, string> = {};
  for (const [repo, source] of Object.entries(sources)) {
    const dest = servedPathOf(slot, repo);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    // safe.directory: the source may belong to another user; reading it is all a clone does.
    await run("git", ["-c", "safe.directory=*", "clone", "-q", "--bare", "--no-hardlinks", path.resolve(source), dest], {
      env: { ...NODE_ENV, HOME: slot.dir },
    });
    await run("chmod", ["-R", "a+rX", dest]);
    served[repo] = dest;
  }
  return served;
}

interface Postgres {
  process: ChildProcess;
  socketDir: string;
}

/**
 * A throwaway PostgreSQL 15 cluster on the bridge address (the stand-in for RDS):
 * fresh on every run, never touching Debian's own "main" cluster. Password (scram)
 * logins from the node subnet; peer login for the local postgres user.
 */
async function initPostgres(slot: Slot): Promise<string> {
  const data = path.join(slot.dir, "pg");
  fs.mkdirSync(data, { mode: 0o700 });
  await run("chown", ["postgres:postgres", data]);
  await run("runuser", [
    "-u",
    "postgres",
    "--",
    `${PG_BIN}/initdb`,
    "-D",
    data,
    "-U",
    "postgres",
    "--auth-local=peer",
    "--auth-host=scram-sha-256",
    "--encoding=UTF8",
    "--locale=C.UTF-8",
    "--no-sync",
    "--no-instructions",
  ]);
  fs.writeFileSync(
    path.join(data, "pg_hba.conf"),
    ["local all all peer", "host all all 127.0.0.1/32 scram-sha-256", `host all all ${slot.subnet}.0/24 scram-sha-256`, ""].join("\n"),
  );
  return data;
}

async function startPostgres(slot: Slot, data: string): Promise<Postgres> {
  const socketDir = path.join(slot.dir, "pg-socket");
  fs.mkdirSync(socketDir);
  await run("chown", ["postgres:postgres", socketDir]);
  const log = fs.openSync(path.join(slot.dir, "postgres.log"), "a");
  const child = spawn(
    "setpriv",
    [
      "--reuid",
      "postgres",
      "--regid",
      "postgres",
      "--init-groups",
      "--pdeathsig",
      "KILL",
      "--",
      `${PG_BIN}/postgres`,
      "-D",
      data,
      "-c",
      `listen_addresses=${slot.subnet}.1`,
      "-c",
      `port=${PG_PORT}`,
      "-c",
      `unix_socket_directories=${socketDir}`,
      // A test database: durability buys nothing, speed does.
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "max_connections=200",
    ],
    { env: NODE_ENV, cwd: "/", stdio: ["ignore", log, log] },
  );
  fs.closeSync(log);
  const exited = exitAsError(child, "e2e postgres", path.join(slot.dir, "postgres.log"));
  await Promise.race([
    exited,
    waitFor("postgres", 20000, async () => {
      const r = await run(`${PG_BIN}/pg_isready`, ["-q", "-h", socketDir, "-p", String(PG_PORT)], { allowFailure: true });
      return r.code === 0 ? true : undefined;
    }),
  ]);
  return { process: child, socketDir };
}

/** A SQL string literal (standard_conforming_strings is on: only quotes double). */
function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function killAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

async function stopNode(node: RunningNode): Promise<void> {
  const gone = new Promise<void>((resolve) => {
    if (node.process.exitCode !== null || node.process.signalCode !== null) resolve();
    else node.process.once("exit", () => resolve());
  });
  if (pidAlive(node.initPid)) process.kill(node.initPid, "SIGKILL");
  const timer = setTimeout(() => node.process.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
  if (node.cgroup) await removeCgroup(node.cgroup);
}

export interface ClusterOptions {
  appNodeCount?: number;
  /** Machines to start beside the app nodes (Cluster.spareNodes; default none). */
  spareNodeCount?: number;
  /** owner/name -> a local git repository (bare or not) to serve in place of the fixture. */
  repositories?: Record<string, string>;
  /** sshd's MaxStartups on the app nodes (its default, 10:30:100, when absent): a small one
   *  makes the nodes refuse connections as a loaded sshd does. */
  sshMaxStartups?: string;
  /** The app nodes' PID 1: "plain" (sshd) or "systemd" (systemd, running sshd and the apps'
   *  gunicorn@ units as production does). Default: FLEET_E2E_INIT, else "systemd" (production's). */
  init?: NodeInit;
  /** nginx hosts (1 by default); with two or more, a balancer in front of them (Cluster.balancer). */
  staticHostCount?: number;
}

/** ClusterOptions.init, else FLEET_E2E_INIT (so any e2e file can run on plain nodes), else systemd:
 *  production's nodes always run systemd, so that is what the e2e suite proves by default. */
export function nodeInitOf(opts: ClusterOptions): NodeInit {
  const init = opts.init ?? process.env.FLEET_E2E_INIT ?? "systemd";
  if (!(NODE_INITS as readonly string[]).includes(init)) {
    const from = opts.init !== undefined ? "startCluster: init" : "FLEET_E2E_INIT";
    throw new Error(`${from} must be one of ${NODE_INITS.join(", ")}, got ${JSON.stringify(init)}`);
  }
  return init as NodeInit;
}

/** The address of nginx host k (1-based): host 1 where it always was, the others above the app nodes' range. */
function staticHostAddress(subnet: string, k: number): string {
  return `${subnet}.${staticHostNumber(k)}`;
}

function staticHostNumber(k: number): number {
  return k === 1 ? 10 : 220 + k;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const appNodeCount = opts.appNodeCount ?? 2;
  if (!Number.isInteger(appNodeCount) || appNodeCount < 1 || appNodeCount > 200) {
    throw new Error(`startCluster: appNodeCount must be an integer from 1 to 200, got ${appNodeCount}`);
  }
  const spareNodeCount = opts.spareNodeCount ?? 0;
  if (!Number.isInteger(spareNodeCount) || spareNodeCount < 0 || appNodeCount + spareNodeCount > 200) {
    throw new Error(`startCluster: spareNodeCount must be a whole number, at most 200 machines with the app nodes, got ${spareNodeCount}`);
  }
  if (process.getuid?.() !== 0) throw new Error("startCluster: the e2e cluster needs root (namespaces, sshd, nginx)");
  if (opts.sshMaxStartups !== undefined && !/^\d+(:\d+:\d+)?$/.test(opts.sshMaxStartups)) {
    throw new Error(`startCluster: sshMaxStartups must be sshd's start[:rate:full], got ${JSON.stringify(opts.sshMaxStartups)}`);
  }
  const appSshd = opts.sshMaxStartups ? [`MaxStartups ${opts.sshMaxStartups}`] : [];
  const init = nodeInitOf(opts);
  const staticHostCount = opts.staticHostCount ?? 1;
  if (!Number.isInteger(staticHostCount) || staticHostCount < 1 || staticHostCount > 9) {
    throw new Error(`startCluster: staticHostCount must be an integer from 1 to 9, got ${staticHostCount}`);
  }
  const slot = await claimSlot();
  const staticHosts: NodeHandle[] = Array.from({ length: staticHostCount }, (_, i) => ({
    name: i === 0 ? "static" : `static-${i + 1}`,
    address: staticHostAddress(slot.subnet, i + 1),
  }));
  const staticHost = staticHosts[0];
  const appNodes: NodeHandle[] = Array.from({ length: appNodeCount }, (_, i) => ({
    name: `node-${i + 1}`,
    address: `${slot.subnet}.${11 + i}`,
  }));
  const spareNodes: NodeHandle[] = Array.from({ length: spareNodeCount }, (_, i) => ({
    name: `spare-${i + 1}`,
    address: `${slot.subnet}.${11 + appNodeCount + i}`,
  }));
  const machines = [...appNodes, ...spareNodes];
  const started: RunningNode[] = [];
  let postgres: Postgres | undefined;
  let balancer: Balancer | undefined;

  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll());
  const stopAll = async () => {
    process.removeListener("exit", onExit);
    // Killing a node's PID 1 makes the kernel kill every process of the node;
    // unshare, its parent, exits once all of them are gone.
    await balancer?.stop();
    await Promise.all(started.map((n) => stopNode(n)));
    if (postgres) await killAndWait(postgres.process, "SIGQUIT"); // immediate shutdown
    await removeSlot(slot);
    slot.holder.close();
  };
  // Last resort when the test runner exits without stop(): processes die by
  // pdeathsig; the bridge and the state directory are reclaimed by the next run.
  const onExit = () => {
    for (const n of started) if (pidAlive(n.initPid)) process.kill(n.initPid, "SIGKILL");
  };
  process.on("exit", onExit);

  try {
    fs.writeFileSync(
      path.join(slot.dir, "hosts"),
      [...staticHosts, ...machines].map((n) => `${n.address}\t${n.name}\n`).join("") + `${slot.subnet}.1\tdb\n`,
    );
    // The served repositories are root's; every node user may read them (GitHub checks no
    // ownership). "*", not a list: serveFixtureAs adds repositories after the nodes started,
    // and this git (2.39) has no "directory/*" prefix form.
    fs.writeFileSync(path.join(slot.dir, "gitconfig"), "[safe]\n\tdirectory = *\n");
    // Everything that can overlap does: nodes need the key and the bridge, the
    // database needs initdb and the bridge, the repositories need nothing.
    const bridge = createBridge(slot);
    const keysMade = makeKeys(slot);
    const reposServed = serveRepositories(slot, opts.repositories);
    const pgStarted = Promise.all([initPostgres(slot), bridge]).then(([data]) => startPostgres(slot, data));
    pgStarted.then(
      (p) => (postgres = p),
      () => undefined,
    );
    const nodesStarted = Promise.all([keysMade, bridge]).then(() =>
      Promise.all(
        [
          ...staticHosts.map((n, i) => startNode(slot, n, "static", staticHostNumber(i + 1), "plain")),
          ...machines.map((n, i) => startNode(slot, n, "app", 11 + i, init, appSshd)),
        ].map((p) => p.then((n) => (started.push(n), n))),
      ),
    );
    // allSettled, not all: on a failure, stop() must see every node that did start.
    const settled = await Promise.allSettled([keysMade, reposServed, pgStarted, nodesStarted]);
    const failure = settled.find((r) => r.status === "rejected");
    if (failure) throw failure.reason;
    const keys = await keysMade;
    const repositories = await reposServed;
    const fixturePath = (): string => {
      const fixture = repositories[FIXTURE_REPO];
      if (!fixture || opts.repositories) throw new Error("e2e cluster: this cluster serves other repositories, not the fixture");
      return fixture;
    };
    const pg = await pgStarted;
    if (staticHostCount > 1) balancer = await startBalancer(path.join(slot.dir, "balancer"), `${slot.subnet}.1`, staticHosts);

    const runningNode = (node: NodeHandle): RunningNode => {
      const found = started.find((n) => n.handle.name === node.name);
      if (!found) throw new Error(`e2e cluster: no node named ${node.name}`);
      return found;
    };
    const initPidOf = (node: NodeHandle): number => runningNode(node).initPid;
    const terminated = new Set<string>();

    return {
      appNodes,
      spareNodes,
      init,
      staticHost,
      staticHosts,
      balancer,
      sshUser: SSH_USER,
      sshPort: SSH_PORT,
      privateKeyPem: keys.pem,
      privateKeyPath: keys.path,
      nginxConfDir: NGINX_CONF_DIR,
      get fixtureRepoPath(): string {
        return fixturePath();
      },
      repositories,
      gitBaseUrl: `file://${path.join(slot.dir, "git")}`,
      postgres: {
        host: `${slot.subnet}.1`,
        port: PG_PORT,
        superuser: "postgres",
        // The password travels on stdin, never on a command line.
        setSuperuserPassword: async (pw: string) => {
          await run(
            "runuser",
            [
              "-u",
              "postgres",
              "--",
              `${PG_BIN}/psql`,
              "-X",
              "-q",
              "-v",
              "ON_ERROR_STOP=1",
              "-h",
              pg.socketDir,
              "-p",
              String(PG_PORT),
              "-d",
              "postgres",
            ],
            {
              input: `ALTER ROLE postgres PASSWORD ${sqlLiteral(pw)};\n`,
            },
          );
        },
      },
      serveFixtureAs(repos: string[]) {
        const fixture = fixturePath();
        for (const repo of repos) {
          const served = servedPathOf(slot, repo);
          if (fs.existsSync(served)) continue;
          fs.mkdirSync(path.dirname(served), { recursive: true });
          fs.symlinkSync(fixture, served);
          repositories[repo] = served;
        }
      },
      exec: (node, command, execOpts = {}) => {
        const nsenter = ["-t", String(initPidOf(node)), "-m", "-u", "-i", "-n", "-p", "--"];
        const inner = execOpts.asUser ? ["runuser", "-u", execOpts.asUser, "--", "/bin/sh", "-c", command] : ["/bin/sh", "-c", command];
        return run("nsenter", [...nsenter, ...inner], { allowFailure: true, env: { ...NODE_ENV, HOME: "/root" } });
      },
      kill: (node) => stopNode(runningNode(node)),
      sshdLog: (node) => {
        initPidOf(node);
        const file = path.join(slot.dir, "nodes", node.name, "sshd.log");
        return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
      },
      terminate: async (node) => {
        terminated.add(node.name);
        await stopNode(runningNode(node));
      },
      isRunning: (node) => !terminated.has(node.name) && pidAlive(initPidOf(node)),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
