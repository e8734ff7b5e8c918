// First-boot provisioning of the fleet's machines (replaces Chef), as cloud-config text.
// Pure. Holds nothing secret: EC2 user data is readable by anyone who can describe the
// instance, and the aws provider stores it in clear text; only the PUBLIC half of the
// deploy key is written here. App-level state (app users, releases, env files) is the
// deploy component's job.
import * as path from "path";
import { stringify } from "yaml";
import {
  APP_LAYOUT,
  APPS_ROOT,
  DEPLOY_USER,
  HEAVY_SLOTS_DIR,
  HEAVY_WORK_LOG,
  NGINX_CONF_DIR,
  NODE_CONFIG_FILE,
  NODE_HELPER,
  SCRIPTS_ROOT,
  WEB_ROOT,
} from "../rollout/layout";
import { RULES } from "../config/patterns";
import { PROCESS_LIMITS } from "../config/processes";

export type MachineRole = "app-node" | "static-host";

export { DEPLOY_USER };
/** Stands for APPS_ROOT in node/provision/gunicorn@.service. */
export const APPS_ROOT_PLACEHOLDER = "@APPS_ROOT@";

const BASE_PACKAGES = ["python3", "python3-venv", "git"];
const ROLE_PACKAGES: Record<MachineRole, string[]> = {
  // Headers so `pip install` can build psycopg2 and mysqlclient (pkg-config finds the MySQL
  // ones); the clients database.sh creates per-app databases and roles with.
  "app-node": [
    "python3-dev",
    "build-essential",
    "pkg-config",
    "libpq-dev",
    "default-libmysqlclient-dev",
    "postgresql-client",
    "default-mysql-client",
  ],
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
  /** App nodes: where fleet-logship sends the apps' journal (infra/logGroups.ts); absent: nowhere. */
  logShipping?: LogShipping;
}

/** The CloudWatch log groups of the stack's apps: the prefix of their names and their region. */
export interface LogShipping {
  groupPrefix: string;
  region: string;
}

/** The texts of node/provision an app node's user data carries (node/scripts.ts appNodeSources). */
export interface AppNodeSources {
  /** gunicorn@.service, with @APPS_ROOT@ for the apps' directory. */
  gunicornUnit: string;
  /** fleet-node.py, with @NAME@ placeholders. */
  nodeHelper: string;
  /** fleet-logship.py, with @NAME@ placeholders. */
  logShipper: string;
}

export function renderCloudInit(args: CloudInitArgs, sources: AppNodeSources): string {
  const key = args.deployPublicKey.trim();
  if (!/^ssh-(ed25519|rsa) [A-Za-z0-9+/=]+( [^\n]*)?$/.test(key)) {
    throw new Error("cloud-init: deployPublicKey must be one OpenSSH public key line");
  }
  const writeFiles =
    args.role === "app-node"
      ? [
          { path: "/etc/systemd/system/gunicorn@.service", permissions: "0644", content: gunicornUnit(sources.gunicornUnit) },
          ...nodeConfigFile(args.heavyJobs),
          { path: NODE_HELPER, permissions: "0755", content: nodeHelper(sources.nodeHelper) },
          { path: DEPLOY_SUDOERS_FILE, permissions: "0440", content: deploySudoers() },
          ...logShipperFiles(args.logShipping, sources.logShipper),
        ]
      : [{ path: `${NGINX_CONF_DIR}/00-default.conf`, permissions: "0644", content: NGINX_DEFAULT_SERVER }];
  const runcmd =
    args.role === "app-node"
      ? [
          ["install", "-d", "-m", "0755", APPS_ROOT],
          ["systemctl", "daemon-reload"],
          ...(args.logShipping ? [["systemctl", "enable", "--now", LOG_SHIPPER_UNIT]] : []),
        ]
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
    packages: [
      ...BASE_PACKAGES,
      ...ROLE_PACKAGES[args.role],
      ...(args.role === "app-node" && args.logShipping ? LOG_SHIPPER_PACKAGES : []),
    ],
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
  return [
    {
      path: NODE_CONFIG_FILE,
      permissions: "0644",
      content: `# fleet:nodes in the stack file: at most HEAVY_JOBS heavy stage commands at once on this node\nHEAVY_JOBS=${heavyJobs}\n`,
    },
  ];
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

/** node/provision/fleet-node.py with the layout, the app user's pattern and the rules of a
 *  process's or schedule's values put in: root never reads them from the deploy user's files. */
export function nodeHelper(text: string): string {
  return fillPlaceholders("fleet-node.py", text, {
    "@APPS_ROOT@": APPS_ROOT,
    "@SCRIPTS_ROOT@": SCRIPTS_ROOT,
    "@HEAVY_SLOTS_DIR@": HEAVY_SLOTS_DIR,
    "@HEAVY_LOG_DIR@": path.posix.dirname(HEAVY_WORK_LOG),
    "@OS_USER_PATTERN@": RULES.osUser.ere,
    "@NODE_HELPER@": NODE_HELPER,
    "@PROCESS_NAME_PATTERN@": RULES.processName.ere,
    "@COMMAND_PATTERN@": RULES.command.ere,
    "@COMMAND_MAX_LENGTH@": String(RULES.command.maxLength),
    "@ON_CALENDAR_PATTERN@": RULES.onCalendar.ere,
    "@PROCESS_MEMORY_MIN@": String(PROCESS_LIMITS.memoryMb.min),
    "@PROCESS_MEMORY_MAX@": String(PROCESS_LIMITS.memoryMb.max),
    "@PROCESS_STOP_MIN@": String(PROCESS_LIMITS.stopSeconds.min),
    "@PROCESS_STOP_MAX@": String(PROCESS_LIMITS.stopSeconds.max),
  });
}

/** A file of node/provision with its @PLACEHOLDERS@ put in (each one known, or an error). */
function fillPlaceholders(file: string, text: string, values: Record<string, string>): string {
  return text.replace(/@[A-Z_]+@/g, (p) => {
    const v = values[p];
    if (v === undefined) throw new Error(`${file}: unknown placeholder ${p}`);
    return v;
  });
}

/** Where cloud-init puts the log shipper, and its unit. */
export const LOG_SHIPPER = "/usr/local/sbin/fleet-logship";
export const LOG_SHIPPER_UNIT = "fleet-logship.service";
/** boto3 (CloudWatch Logs with the node's role) from the distribution, as every other package. */
const LOG_SHIPPER_PACKAGES = ["python3-boto3"];

/**
 * node/provision/fleet-logship.py with the stack's group prefix and region, and its unit: root's
 * (it reads every app's journal), restarted when it stops; nothing when the stack ships no logs.
 */
export function logShipperFiles(shipping: LogShipping | undefined, text: string): { path: string; permissions: string; content: string }[] {
  if (!shipping) return [];
  if (!/^\/[A-Za-z0-9_./-]+\/$/.test(shipping.groupPrefix) || !/^[a-z]{2}(-[a-z]+)+-[0-9]$/.test(shipping.region)) {
    throw new Error(
      `cloud-init: log shipping to ${JSON.stringify(shipping.groupPrefix)} in ${JSON.stringify(shipping.region)}: a group prefix /a/b/ and an AWS region are what it takes`,
    );
  }
  const script = fillPlaceholders("fleet-logship.py", text, {
    "@LOG_GROUP_PREFIX@": shipping.groupPrefix,
    "@AWS_REGION@": shipping.region,
    "@OS_USER_PATTERN@": RULES.osUser.ere,
  });
  const unit = [
    "# fleet (render/cloudInit.ts): the apps' journal to their CloudWatch log groups",
    "[Unit]",
    "Description=fleet: the apps' logs to CloudWatch",
    "After=network-online.target systemd-journald.service",
    "Wants=network-online.target",
    "",
    "[Service]",
    `ExecStart=${LOG_SHIPPER}`,
    "Restart=always",
    "RestartSec=10",
    "NoNewPrivileges=true",
    "ProtectSystem=full",
    "StateDirectory=fleet-logship",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
  return [
    { path: LOG_SHIPPER, permissions: "0755", content: script },
    { path: `/etc/systemd/system/${LOG_SHIPPER_UNIT}`, permissions: "0644", content: unit },
  ];
}

/** node/provision/gunicorn@.service with the apps' directory and an app's layout (rollout/layout.ts)
 *  put in for @APPS_ROOT@, @APP_CURRENT@ and @APP_SHARED@. (Its comments stay as they are: the text
 *  is EC2 user data, and changing it would update every app node.) */
function gunicornUnit(text: string): string {
  return fillPlaceholders("gunicorn@.service", text, {
    [APPS_ROOT_PLACEHOLDER]: APPS_ROOT,
    "@APP_CURRENT@": APP_LAYOUT.current,
    "@APP_SHARED@": APP_LAYOUT.shared,
  });
}
