// The nginx host's configuration, generated from the catalog. Pure: plain data in,
// text out, so it is tested without Pulumi and fed to a real nginx in the tests.
//
// One file per app (fleet-<app>.conf) holding its upstream and its server blocks; for an app
// with a certificate, fleet-<app>-<id>.crt and fleet-<app>-<id>.key too, <id> naming the
// certificate, so a renewal writes new files beside the ones nginx still uses. The publish
// script owns exactly those fleet-* files.
//
// An app's upstream lists the nodes it serves on (Upstreams), never every node that exists: a
// node enters it once the app's switch step passed its health check there (components/app/appDeployment.ts)
// and leaves it before the node is destroyed. An app that serves on no node has no file at all:
// the edge host's default server closes the connection (444) as for any name no app claims.
import { appIdentity } from "../config/identity";
import { createHash } from "crypto";
import { DOMAIN_PATTERN, MAINTENANCE_MESSAGE_PATTERN, NAME_PATTERN } from "../config/catalog";
import { NGINX_TLS_DIR, staticDir, WEB_ROOT } from "../rollout/layout";

/** What nginx needs to know about an app (a subset of the catalog's App). */
export interface NginxApp {
  name: string;
  domain: string;
  port: number;
  /** Served over HTTPS with this certificate (PEM chain); HTTP redirects. */
  certificate?: string;
  /** apps.yaml `maintenance: true`: every request but static files gets the maintenance page. */
  maintenance?: boolean;
  /** The page's own words (apps.yaml `maintenanceMessage`). */
  maintenanceMessage?: string;
}

export interface NginxOptions {
  /** Port the server blocks listen on (80 in AWS; tests use a free one). */
  listenPort?: number;
  /** Port of the HTTPS server blocks (443 in AWS). */
  tlsPort?: number;
  /** Where the publish script keeps certificates and keys (root only). */
  tlsDir?: string;
  /** Where the static files of app X live: <staticRoot>/<X's OS user>/static/ (config/identity.ts). */
  staticRoot?: string;
  /** Passive health check: after this many failures in failTimeout, a node is skipped for failTimeout. */
  maxFails?: number;
  failTimeoutSeconds?: number;
  /** Largest upload accepted (uploads go through Django to S3). */
  clientMaxBodySize?: string;
  /** Where each app's own access log goes (fleet-<app>.access.log; Debian's logrotate rotates *.log there). */
  accessLogDir?: string;
}

/** The name of the step that publishes the sites on the nginx host (components/infra/edgeHost.ts). */
export const SITES_STEP = "nginx-config";

/** Per app name, the private addresses of the nodes it serves on (its upstream). */
export type Upstreams = Record<string, string[]>;

/** Start of each file in the publish script's stdin, followed by the file name. */
export const FILE_MARKER = "@@fleet-file ";
/** Last line of the stdin; its absence means the input was cut short. */
export const END_MARKER = "@@fleet-end";

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
/** Django's ManifestStaticFilesStorage inserts a 12-hex-digit content hash before the extension. */
const HASHED_FILE_REGEX = "\\.[0-9a-f]{12}\\.[A-Za-z0-9]+$";
/** The URL path nginx serves every app's collected static files at: each release's under
 *  STATIC_URL<commit>/, the STATIC_URL the platform's settings give it (platform_settings_module.py). */
export const STATIC_URL = "/static/";
/** A release's own files (node/rollout/static.sh), never changed once published: a SHA-1 or SHA-256 commit. */
const RELEASE_FILE_REGEX = `^${STATIC_URL}[0-9a-f]{40}([0-9a-f]{24})?/`;

const DEFAULTS: Required<NginxOptions> = {
  listenPort: 80,
  tlsPort: 443,
  tlsDir: NGINX_TLS_DIR,
  staticRoot: WEB_ROOT,
  maxFails: 2,
  failTimeoutSeconds: 5,
  clientMaxBodySize: "25m",
  accessLogDir: "/var/log/nginx",
};

/** An app's access log on the nginx host: per request its time, status, the node that answered
 *  (or "-": nginx answered itself, as the maintenance page does), that node's status and time. */
export function accessLogFile(app: string, dir = DEFAULTS.accessLogDir): string {
  return `${dir}/fleet-${app}.access.log`;
}

export function nginxFileName(app: string): string {
  return `fleet-${app}.conf`;
}

/**
 * The http-level settings the server blocks need, in a file of its own: nginx's hash of server
 * names must hold the longest domain (its default bucket, 64 bytes, takes 45 characters at most,
 * and one longer name fails `nginx -t` for every site of the host). No app has this file name: an
 * app's name starts with a letter.
 */
export const SERVER_NAMES_FILE = "fleet-0-server-names.conf";

/** What nginx stores per name in a bucket (ngx_hash.c NGX_HASH_ELT_SIZE): a pointer, the length, the name, aligned. */
const hashEntryBytes = (name: string) => Math.ceil((8 + 2 + name.length) / 8) * 8;
const powerOfTwoAtLeast = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(n, 1)));
/** Entries of the longest name one bucket holds: nginx looks for a table size where no bucket overflows. */
const NAMES_PER_BUCKET = 4;

/**
 * The server-names hash for these domains: buckets that hold NAMES_PER_BUCKET of the longest name
 * (plus the bucket's end pointer), a power of two so it is a multiple of any cache line; and room
 * for four buckets per name, so nginx finds a table size for hundreds of apps.
 */
export function serverNamesHash(domains: string[]): { bucketSize: number; maxSize: number } {
  const longest = Math.max(0, ...domains.map((d) => hashEntryBytes(d)));
  return {
    bucketSize: Math.max(64, powerOfTwoAtLeast(NAMES_PER_BUCKET * longest + 8)),
    maxSize: Math.max(512, powerOfTwoAtLeast(4 * domains.length)),
  };
}

export function renderServerNames(domains: string[]): string {
  const hash = serverNamesHash(domains);
  return `# Generated by fleet from the stack's domains (the longest sizes the buckets); changes on the host are overwritten.
server_names_hash_bucket_size ${hash.bucketSize};
server_names_hash_max_size ${hash.maxSize};
`;
}

/** The certificate chain and key files of an app with HTTPS, named after the certificate. */
export function tlsFileNames(app: string, certificate: string): { certificate: string; privateKey: string } {
  const id = createHash("sha256").update(certificate).digest("hex").slice(0, 12);
  return { certificate: `fleet-${app}-${id}.crt`, privateKey: `fleet-${app}-${id}.key` };
}

/** Config text per file name, in app-name order (deterministic, so an unchanged catalog and
 *  unchanged upstreams change nothing): one file per app that serves on at least one node. */
export function renderNginxFiles(apps: NginxApp[], upstreams: Upstreams, options: NginxOptions = {}): Record<string, string> {
  const opts = { ...DEFAULTS, ...options };
  checkInputs(apps, upstreams);
  const files: Record<string, string> = {};
  for (const app of [...apps].sort((a, b) => a.name.localeCompare(b.name))) {
    const nodes = [...new Set(upstreams[app.name] ?? [])].sort();
    if (nodes.length > 0) files[nginxFileName(app.name)] = renderApp(app, nodes, opts);
  }
  return files;
}

/** An app's certificate and the private key it was issued for (PEM). */
export interface CertificateAndKey {
  certificate: string;
  privateKey: string;
}

/**
 * The publish script's stdin for the nginx host, in sites mode: each app's config (HTTPS for
 * the apps in `certificates`), the server-names hash sized for every app's domain, and the
 * certificate files. No key: those go through renderKeys.
 */
export function renderSites(
  apps: Omit<NginxApp, "certificate">[],
  upstreams: Upstreams,
  certificates: Record<string, string>,
  options: NginxOptions = {},
): string {
  const withTls = apps.map((a) => ({ ...a, certificate: certificates[a.name] }));
  const files = renderNginxFiles(withTls, upstreams, options);
  files[SERVER_NAMES_FILE] = renderServerNames(apps.map((a) => a.domain));
  // Every certificate, also of an app that serves nowhere yet: the publish script keeps only the
  // keys of published certificates, and the keys step does not run again when the app comes up.
  for (const app of withTls.filter((a) => a.certificate !== undefined)) {
    files[tlsFileNames(app.name, app.certificate!).certificate] = app.certificate!;
  }
  return renderPublishInput(files);
}

/** The publish script's stdin in keys mode: each app's private key, named after its certificate. */
export function renderKeys(certificates: Record<string, CertificateAndKey>): string {
  const files: Record<string, string> = {};
  for (const [app, c] of Object.entries(certificates)) {
    checkAppName(app);
    files[tlsFileNames(app, c.certificate).privateKey] = c.privateKey;
  }
  return renderPublishInput(files);
}

/** The stdin of publish-nginx-config.sh: each file after its marker line, then the end marker. */
export function renderPublishInput(files: Record<string, string>): string {
  const parts = Object.keys(files)
    .sort()
    .map((name) => `${FILE_MARKER}${name}\n${files[name]}`);
  return parts.join("") + END_MARKER + "\n";
}

// Values reach a config file that root loads: refuse anything outside strict patterns
// even though the catalog validated them already.
function checkAppName(name: string): void {
  if (!NAME_PATTERN.test(name)) throw new Error(`nginx config: app name ${JSON.stringify(name)} must match ${NAME_PATTERN}`);
}

function checkInputs(apps: NginxApp[], upstreams: Upstreams): void {
  const seen = new Set<string>();
  for (const app of apps) {
    checkAppName(app.name);
    if (!DOMAIN_PATTERN.test(app.domain))
      throw new Error(`nginx config: ${app.name}: domain ${JSON.stringify(app.domain)} is not a lowercase host name`);
    if (!Number.isInteger(app.port) || app.port < 1024 || app.port > 65535)
      throw new Error(`nginx config: ${app.name}: port ${app.port} must be an integer 1024-65535`);
    if (seen.has(app.domain)) throw new Error(`nginx config: domain ${app.domain} is used by two apps`);
    if (app.maintenanceMessage !== undefined && !MAINTENANCE_MESSAGE_PATTERN.test(app.maintenanceMessage))
      throw new Error(
        `nginx config: ${app.name}: maintenance message ${JSON.stringify(app.maintenanceMessage)} must match ${MAINTENANCE_MESSAGE_PATTERN}`,
      );
    seen.add(app.domain);
  }
  for (const [app, nodes] of Object.entries(upstreams)) {
    if (!apps.some((a) => a.name === app))
      throw new Error(`nginx config: an upstream for ${JSON.stringify(app)}, which is not one of the apps`);
    for (const ip of nodes) {
      if (!IPV4.test(ip)) throw new Error(`nginx config: ${app}: node address ${JSON.stringify(ip)} is not an IPv4 address`);
    }
  }
}

function renderApp(app: NginxApp, nodeIps: string[], opts: Required<NginxOptions>): string {
  const id = app.name.replace(/-/g, "_");
  const servers = nodeIps
    .map((ip) => `    server ${ip}:${app.port} max_fails=${opts.maxFails} fail_timeout=${opts.failTimeoutSeconds}s;`)
    .join("\n");
  return `# Generated by fleet from apps.yaml (app ${app.name}); changes on the host are overwritten.
log_format fleet_${id} '$msec $status $upstream_addr $upstream_status $upstream_response_time $request_time "$request_method $uri"';

upstream fleet_${id} {
${servers}
    keepalive 16;
}

# A release's own files and hashed names never change content: cache them for good; others briefly.
map $uri $fleet_${id}_static_cache_control {
    "~${RELEASE_FILE_REGEX}" "public, max-age=31536000, immutable";
    "~${HASHED_FILE_REGEX}" "public, max-age=31536000, immutable";
    default "public, max-age=3600";
}

${app.certificate !== undefined ? httpsServers(app, app.certificate, id, opts) : httpServer(app, id, opts)}`;
}

function httpServer(app: NginxApp, id: string, opts: Required<NginxOptions>): string {
  return `server {
    listen ${opts.listenPort};
    server_name ${app.domain};
${siteBody(app, id, opts, "")}}
`;
}

// HTTP only redirects. HSTS is set in each location too: a location's own add_header
// replaces (not extends) the server's.
function httpsServers(app: NginxApp, certificate: string, id: string, opts: Required<NginxOptions>): string {
  const files = tlsFileNames(app.name, certificate);
  const hsts = `add_header Strict-Transport-Security "max-age=31536000" always;`;
  return `server {
    listen ${opts.listenPort};
    server_name ${app.domain};
    return 301 https://$host$request_uri;
}

server {
    listen ${opts.tlsPort} ssl;
    server_name ${app.domain};
    ssl_certificate ${opts.tlsDir}/${files.certificate};
    ssl_certificate_key ${opts.tlsDir}/${files.privateKey};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_timeout 1d;
    ${hsts}
${siteBody(app, id, opts, hsts)}}
`;
}

/** What a client is told to wait before trying again, on the maintenance page (seconds). */
export const MAINTENANCE_RETRY_AFTER_SECONDS = 300;
/** The line render/nginx.ts puts into a site in maintenance (what `npm run status` reads). */
export const MAINTENANCE_MARKER = "# fleet: maintenance";
/** The fields of an app's access log line (log_format fleet_<app>), in order. */
export const ACCESS_LOG_FIELDS = [
  "msec",
  "status",
  "upstream_addr",
  "upstream_status",
  "upstream_response_time",
  "request_time",
  "request",
] as const;

/** The maintenance page: HTTP 503 from nginx itself, with Retry-After, the app's name and its
 *  message. No request reaches the nodes, which keep running (health checks and the rollout go to
 *  them directly, never through nginx). */
function maintenanceLocation(app: NginxApp, extraHeader: string): string {
  const message = app.maintenanceMessage ?? "This service is down for maintenance and will be back shortly.";
  const page =
    `<!doctype html><html><head><meta charset=utf-8><title>${app.name}: maintenance</title></head>` +
    `<body><h1>${app.name} is down for maintenance</h1><p>${message}</p></body></html>`;
  return `    ${MAINTENANCE_MARKER} (apps.yaml): the nodes keep running; no request goes to them from here.
    location / {
        default_type text/html;
        add_header Retry-After ${MAINTENANCE_RETRY_AFTER_SECONDS} always;
        add_header Cache-Control "no-store" always;${extraHeader ? `\n        ${extraHeader}` : ""}
        return 503 "${page}\n";
    }
`;
}

/** What both kinds of server do: static files from disk, everything else to the app nodes (or the
 *  maintenance page). */
function siteBody(app: NginxApp, id: string, opts: Required<NginxOptions>, staticHeader: string): string {
  return `    client_max_body_size ${opts.clientMaxBodySize};
    access_log ${accessLogFile(app.name, opts.accessLogDir)} fleet_${id};

    location ${STATIC_URL} {
        alias ${staticDir(opts.staticRoot, appIdentity(app.name).osUser)}/;
        add_header Cache-Control $fleet_${id}_static_cache_control;${staticHeader ? `\n        ${staticHeader}` : ""}
    }

${app.maintenance ? maintenanceLocation(app, staticHeader) : proxyLocation(id)}`;
}

function proxyLocation(id: string): string {
  return `    location / {
        proxy_pass http://fleet_${id};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        # A node being reloaded or switched refuses or answers 502/503: try the next one.
        proxy_next_upstream error timeout http_502 http_503;
        proxy_connect_timeout 2s;
    }
`;
}
