// First-boot provisioning of the fleet's machines (replaces Chef), as cloud-config text.
// Pure. Holds nothing secret: EC2 user data is readable by anyone who can describe the
// instance, and the aws provider stores it in clear text; only the PUBLIC half of the
// deploy key is written here. App-level state (app users, releases, env files) is the
// deploy component's job.
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { APP_LAYOUT, APPS_ROOT, DEPLOY_USER, HEAVY_SLOTS_DIR, HEAVY_WORK_LOG, NGINX_CONF_DIR, NODE_CONFIG_FILE, NODE_HELPER, SCRIPTS_ROOT, WEB_ROOT } from "../rollout/layout";
import { RULES } from "../config/patterns";
import { PROVISION_SCRIPTS_DIR } from "./shellCommand";

export type MachineRole = "app-node" | "static-host";

export { DEPLOY_USER };
/** Stands for APPS_ROOT in node/provision/gunicorn@.service. */
export const APPS_ROOT_PLACEHOLDER = "@APPS_ROOT@";

const BASE_PACKAGES = ["python3", "python3-venv", "git"];
const ROLE_PACKAGES: Record<MachineRole, string[]> = {
    // Headers so `pip install` can build psycopg2 and mysqlclient (pkg-config finds the MySQL
    // ones); the clients database.sh creates per-app databases and roles with.
    "app-node": ["python3-dev", "build-essential", "pkg-config", "libpq-dev", "default-libmysqlclient-dev", "postgresql-client", "default-mysql-client"],
    "static-host": ["nginx"],
};

/** Answers 444 (close) for host names no app claims, instead of proxying some app or showing nginx's page. */
const NGINX_DEFAULT_SERVER = `server {
    listen 80 default_server;
    server_name _;
    return 444;
}
`;

export interface CloudInitArgs {
    role: MachineRole;
    /** OpenSSH public key authorised for the deploy user. */
    deployPublicKey: string;
    /** App nodes: heavy-work slots (fleet:nodes.heavyJobs); 0 or absent: the node's CPU count. */
    heavyJobs?: number;
}

export function renderCloudInit(args: CloudInitArgs): string {
    const key = args.deployPublicKey.trim();
    if (!/^ssh-(ed25519|rsa) [A-Za-z0-9+/=]+( [^\n]*)?$/.test(key)) {
        throw new Error("cloud-init: deployPublicKey must be one OpenSSH public key line");
    }
    const writeFiles = args.role === "app-node"
        ? [
            { path: "/etc/systemd/system/gunicorn@.service", permissions: "0644", content: gunicornUnit() },
            ...nodeConfigFile(args.heavyJobs),
            { path: NODE_HELPER, permissions: "0755", content: nodeHelper() },
            { path: DEPLOY_SUDOERS_FILE, permissions: "0440", content: deploySudoers() },
        ]
        : [{ path: `${NGINX_CONF_DIR}/00-default.conf`, permissions: "0644", content: NGINX_DEFAULT_SERVER }];
    const runcmd = args.role === "app-node"
        ? [["install", "-d", "-m", "0755", APPS_ROOT], ["systemctl", "daemon-reload"]]
        : [
            ["install", "-d", "-m", "0755", WEB_ROOT, NGINX_CONF_DIR],
            // Ubuntu's default site is also a default_server on :80; ours replaces it.
            ["rm", "-f", "/etc/nginx/sites-enabled/default"],
            ["systemctl", "enable", "--now", "nginx"],
            ["systemctl", "reload", "nginx"],
        ];
    const doc = {
        package_update: true,
        package_upgrade: false,
        packages: [...BASE_PACKAGES, ...ROLE_PACKAGES[args.role]],
        users: [
            "default",
            {
                name: DEPLOY_USER,
                gecos: "fleet deployments (Pulumi remote commands)",
                shell: "/bin/bash",
                lock_passwd: true,
                // An app node's deploy user: DEPLOY_SUDOERS_FILE, the node helper only.
                ...(args.role === "app-node" ? {} : { sudo: "ALL=(ALL) NOPASSWD:ALL" }),
                ssh_authorized_keys: [key],
            },
        ],
        write_files: writeFiles,
        runcmd,
    };
    return "#cloud-config\n" + stringify(doc, { lineWidth: 0 });
}

/**
 * The node's own settings, read by the rollout scripts (node/rollout/lib.sh: heavy_jobs). Only
 * when something is set: without the file the scripts use their defaults, and the user data of
 * nodes that set nothing stays as it was (a change of user data makes AWS stop and start the
 * instance, and cloud-init writes files on an instance's first boot only: a new value reaches
 * new nodes, such as a recovery's or replaced ones).
 */
function nodeConfigFile(heavyJobs: number | undefined): { path: string; permissions: string; content: string }[] {
    if (!heavyJobs) return [];
    if (!Number.isInteger(heavyJobs) || heavyJobs < 0) throw new Error("cloud-init: heavyJobs must be a whole number >= 0");
    return [{ path: NODE_CONFIG_FILE, permissions: "0644", content: `# fleet:nodes in the stack file: at most HEAVY_JOBS heavy stage commands at once on this node\nHEAVY_JOBS=${heavyJobs}\n` }];
}

/** An app node's sudoers rule of the deploy user (the only one it has). */
export const DEPLOY_SUDOERS_FILE = "/etc/sudoers.d/90-fleet-deploy";

/**
 * What the deploy user may do as root on an app node: run the node helper, root-owned, written
 * here, whose commands check every argument (node/provision/fleet-node.py). Not the rollout's
 * scripts: the deploy user owns their copy, so a rule naming them would let it run anything.
 * Nothing as another user either: the helper's `as` is how the scripts act as an app's user.
 * env_reset (and no SETENV) leaves the caller no variable the helper or its Python would read.
 */
export function deploySudoers(): string {
    return [
        `# fleet (render/cloudInit.ts): the deploy user may run ${NODE_HELPER} as root, and nothing else.`,
        `Defaults:${DEPLOY_USER} env_reset`,
        `${DEPLOY_USER} ALL=(root) NOPASSWD: ${NODE_HELPER}`,
        "",
    ].join("\n");
}

/** node/provision/fleet-node.py with the layout and the app user's pattern put in: root never
 *  reads them from the deploy user's files. */
export function nodeHelper(): string {
    const values: Record<string, string> = {
        "@APPS_ROOT@": APPS_ROOT,
        "@SCRIPTS_ROOT@": SCRIPTS_ROOT,
        "@HEAVY_SLOTS_DIR@": HEAVY_SLOTS_DIR,
        "@HEAVY_LOG_DIR@": path.posix.dirname(HEAVY_WORK_LOG),
        "@OS_USER_PATTERN@": RULES.osUser.ere,
        "@NODE_HELPER@": NODE_HELPER,
    };
    const text = fs.readFileSync(path.join(PROVISION_SCRIPTS_DIR, "fleet-node.py"), "utf8");
    return text.replace(/@[A-Z_]+@/g, (p) => {
        const v = values[p];
        if (v === undefined) throw new Error(`fleet-node.py: unknown placeholder ${p}`);
        return v;
    });
}

/** node/provision/gunicorn@.service with the apps' directory and an app's layout (rollout/layout.ts)
 *  put in for @APPS_ROOT@, @APP_CURRENT@ and @APP_SHARED@. (Its comments stay as they are: the text
 *  is EC2 user data, and changing it would update every app node.) */
function gunicornUnit(): string {
    const values: Record<string, string> = { [APPS_ROOT_PLACEHOLDER]: APPS_ROOT, "@APP_CURRENT@": APP_LAYOUT.current, "@APP_SHARED@": APP_LAYOUT.shared };
    return fs.readFileSync(path.join(PROVISION_SCRIPTS_DIR, "gunicorn@.service"), "utf8").replace(/@[A-Z_]+@/g, (p) => {
        const v = values[p];
        if (v === undefined) throw new Error(`gunicorn@.service: unknown placeholder ${p}`);
        return v;
    });
}
