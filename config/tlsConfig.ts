// HTTPS on the nginx host: each app's certificate and private key from `fleet:tls`.
//
//   fleet:tls:
//     polls:
//       certificate: |        # PEM: the server certificate first, then its intermediates
//         -----BEGIN CERTIFICATE-----
//         ...
//       privateKey:
//         secure: v1:...      # pulumi config set --secret --path 'fleet:tls.polls.privateKey' < polls.key
//
// Universities mostly issue certificates from their own contract CA (or renew them by hand
// every year), so the program takes the files as stack config rather than running ACME.
// `checkTlsConfig` is pure (no Pulumi): it checks everything a bad file would otherwise break
// on the host at reload time (wrong name, expired, key of another certificate, chain out of
// order) and says so in one line naming the stack file's line. No message ever quotes a key.
import { createPrivateKey, KeyObject, X509Certificate } from "crypto";
import { CertificateAndKey } from "../render/nginx";
import { locateKey } from "./stackConfig";
import { SECURE_PLACEHOLDER } from "./secure";

export const TLS_CONFIG_KEY = "tls";

/** What the nginx host needs for one app: the PEM chain and the PEM key (secret). */
export type TlsFiles = CertificateAndKey;

export interface TlsContext {
  /** The apps on this stack: a certificate must name its app's domain. */
  apps: { name: string; domain: string }[];
  stack: string;
  file: string;
  fileText?: string;
  now: Date;
  /** Certificates expiring sooner than this get a warning. */
  renewWithinDays?: number;
  /** "file:line:col" of fleet:tls.<keyPath> (the stack file reader's, which parsed the file once). */
  locate?: (keyPath: string[]) => string;
  /** Whether the stack file keeps fleet:tls.<app>.privateKey as a secret (undefined: not known). */
  keyIsSecret?: (app: string) => boolean | undefined;
}

/** What checking fleet:tls found: the certificates of the entries without problems, and every problem. */
export interface TlsCheck {
  certificates: Record<string, TlsFiles>;
  warnings: string[];
  errors: string[];
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
const ENTRY_KEYS = ["certificate", "privateKey"];
const DAY_MS = 24 * 3600 * 1000;

class TlsConfigError extends Error {}

/** Checks every app's entry of fleet:tls: one line per entry with a problem (its checks build on each other). */
export function checkTlsConfig(raw: unknown, ctx: TlsContext): TlsCheck {
  const check: TlsCheck = { certificates: {}, warnings: [], errors: [] };
  if (raw === undefined || raw === null) return check;
  const locate = ctx.locate ?? ((keyPath: string[]) => locateKey(ctx.file, ctx.fileText, [TLS_CONFIG_KEY, ...keyPath]));
  const where = (keyPath: string[]) => `${locate(keyPath)}: fleet:${[TLS_CONFIG_KEY, ...keyPath].join(".")}`;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    check.errors.push(`${where([])}: must be a mapping of app name -> {certificate, privateKey}`);
    return check;
  }
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) {
    try {
      const app = ctx.apps.find((a) => a.name === name);
      if (!app) {
        const here = ctx.apps.map((a) => a.name).join(", ") || "none";
        throw new TlsConfigError(`${where([name])}: no app ${JSON.stringify(name)} runs on stack ${ctx.stack} (apps here: ${here})`);
      }
      const { files, leaf } = checkEntry(entry, app, (k) => where(k ? [name, k] : [name]));
      const expiry = expiryWarning(name, app.domain, leaf, ctx);
      if (expiry) check.warnings.push(expiry);
      if (ctx.keyIsSecret?.(name) === false) {
        check.warnings.push(
          `${where([name, "privateKey"])}: is plain text in the stack file (and in git): store it as a secret: pulumi config set --secret --path 'fleet:tls.${name}.privateKey' < KEY-FILE`,
        );
      }
      check.certificates[name] = files;
    } catch (err) {
      if (!(err instanceof TlsConfigError)) throw err;
      check.errors.push(err.message);
    }
  }
  return check;
}

/**
 * An expired certificate is a warning, not an error: nginx serves it anyway, and refusing to run
 * would also block the rollback or fix someone needs while the renewal is on its way.
 */
function expiryWarning(app: string, domain: string, leaf: X509Certificate, ctx: TlsContext): string | undefined {
  const notAfter = new Date(leaf.validTo);
  const daysLeft = Math.floor((notAfter.getTime() - ctx.now.getTime()) / DAY_MS);
  const renew = `renew it and set fleet:tls.${app}.certificate`;
  if (notAfter.getTime() <= ctx.now.getTime())
    return `${app}: the certificate for ${domain} EXPIRED on ${notAfter.toISOString()}: browsers refuse it; ${renew}`;
  if (daysLeft < (ctx.renewWithinDays ?? 21))
    return `${app}: the certificate for ${domain} expires in ${daysLeft} day(s) (${notAfter.toISOString()}): ${renew}`;
  return undefined;
}

function checkEntry(
  entry: unknown,
  app: { name: string; domain: string },
  where: (key?: string) => string,
): { files: TlsFiles; leaf: X509Certificate } {
  const domain = app.domain;
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    throw new TlsConfigError(`${where()}: must be a mapping with certificate and privateKey`);
  }
  const fields = entry as Record<string, unknown>;
  const unknown = Object.keys(fields).find((k) => !ENTRY_KEYS.includes(k));
  if (unknown) throw new TlsConfigError(`${where(unknown)}: unknown key; allowed: ${ENTRY_KEYS.join(", ")}`);
  // A key pasted into the public field would be published with the server blocks: never echo it.
  if (typeof fields.certificate === "string" && PEM_PRIVATE_KEY.test(fields.certificate)) {
    throw new TlsConfigError(
      `${where("certificate")}: holds a private key, which belongs in privateKey, as a secret (pulumi config set --secret --path 'fleet:tls.${app.name}.privateKey' < KEY-FILE); allowed here: the certificates only (-----BEGIN CERTIFICATE-----), server certificate first`,
    );
  }
  for (const k of ENTRY_KEYS) {
    if (typeof fields[k] !== "string" || fields[k] === "") throw new TlsConfigError(`${where(k)}: is required (a PEM text)`);
  }
  const certificate = normalizePem(fields.certificate as string);
  const privateKey = normalizePem(fields.privateKey as string);
  const chain = parseChain(certificate, where("certificate"));
  if (chain[0].checkHost(domain) === undefined) {
    throw new TlsConfigError(`${where("certificate")}: is for ${subjectNames(chain[0])}, not ${domain}`);
  }
  // Offline (no Pulumi CLI to decrypt) the key is a placeholder: a real run checks it.
  if (privateKey.trim() !== SECURE_PLACEHOLDER) {
    const key = parseKey(privateKey, where("privateKey"));
    if (!chain[0].checkPrivateKey(key)) {
      throw new TlsConfigError(
        `${where("privateKey")}: is not the key of the certificate for ${domain} (set the key the certificate was issued for)`,
      );
    }
  }
  return { files: { certificate, privateKey }, leaf: chain[0] };
}

/** The PEM blocks as nginx wants them: leaf first, then each issuer in turn. */
function parseChain(pem: string, where: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsConfigError(`${where}: must be PEM (-----BEGIN CERTIFICATE----- ...)`);
  const chain = blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new TlsConfigError(`${where}: certificate ${i + 1} of ${blocks.length} is not a valid X.509 certificate`);
    }
  });
  chain.forEach((cert, i) => {
    if (i > 0 && !chain[i - 1].checkIssued(cert)) {
      throw new TlsConfigError(
        `${where}: certificate ${i + 1} did not issue certificate ${i}: give the server certificate first, then its intermediates in order`,
      );
    }
  });
  if (chain[0].ca) throw new TlsConfigError(`${where}: the first certificate is a CA certificate: give the server certificate first`);
  return chain;
}

function parseKey(pem: string, where: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    // Never quote the value: it is the secret.
    throw new TlsConfigError(`${where}: is not an unencrypted PEM private key`);
  }
}

function subjectNames(cert: X509Certificate): string {
  return cert.subjectAltName ?? cert.subject.replace(/\n/g, ", ");
}

/** One trailing newline, Unix line ends: equal files give equal text, so nothing re-runs. */
function normalizePem(text: string): string {
  return text.replace(/\r\n/g, "\n").trimEnd() + "\n";
}
