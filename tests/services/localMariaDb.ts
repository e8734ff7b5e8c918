// A throwaway MariaDB server from Debian's packages for services tests: its own data directory,
// its socket, root over that socket (socket authentication: the tests run as root).
// Needs root: mariadb-install-db runs the server as the mysql user.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export class LocalMariaDb {
  private server?: ChildProcess;
  readonly socket: string;
  private constructor(readonly dir: string) {
    this.socket = path.join(dir, "sock");
  }

  /** Listens on `address`:3306 too when given, else on its socket only. */
  static async start(address?: string): Promise<LocalMariaDb> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-mariadb-"));
    execFileSync("chown", ["mysql:mysql", dir]);
    const db = new LocalMariaDb(dir);
    execFileSync(
      "mariadb-install-db",
      ["--no-defaults", `--datadir=${dir}/data`, "--user=mysql", "--auth-root-authentication-method=socket", "--skip-test-db"],
      { stdio: "ignore" },
    );
    const network = address ? [`--bind-address=${address}`, "--port=3306"] : ["--skip-networking"];
    db.server = spawn(
      "mariadbd",
      [
        "--no-defaults",
        `--datadir=${dir}/data`,
        `--socket=${db.socket}`,
        `--pid-file=${dir}/pid`,
        ...network,
        "--user=mysql",
        "--skip-name-resolve",
        `--log-error=${dir}/error.log`,
      ],
      { stdio: "ignore" },
    );
    for (let i = 0; i < 150 && !fs.existsSync(db.socket); i++) await new Promise((r) => setTimeout(r, 100));
    if (!fs.existsSync(db.socket)) throw new Error(`mariadbd did not start: ${fs.readFileSync(`${dir}/error.log`, "utf8")}`);
    return db;
  }

  /** SQL as root over the socket; the rows, tab-separated. */
  root(sql: string): string {
    return execFileSync("mariadb", ["--socket", this.socket, "-N", "-B"], { input: sql, encoding: "utf8" }).trim();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server && server.exitCode === null) {
      await new Promise<void>((resolve) => {
        server.once("exit", () => resolve());
        server.kill("SIGTERM");
      });
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
