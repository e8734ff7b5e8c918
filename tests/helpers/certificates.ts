// Real X.509 certificates for the tests, made with the openssl command line: a test CA and
// server certificates it signs, each with its own private key (PEM text, as fleet:tls takes them).
import { execFileSync } from "child_process";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface TestCa {
  dir: string;
  certificate: string;
  certificatePath: string;
  keyPath: string;
}

export interface IssuedCertificate {
  /** The server certificate, then the CA's (a chain as a CA hands it out). */
  certificate: string;
  leaf: string;
  privateKey: string;
  serial: string;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync("openssl", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

export function makeCa(name = "Fleet Test CA"): TestCa {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-ca-"));
  openssl(
    [
      "req",
      "-x509",
      ...EC_KEY,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "30",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  return {
    dir,
    certificate: fs.readFileSync(path.join(dir, "ca.crt"), "utf8"),
    certificatePath: path.join(dir, "ca.crt"),
    keyPath: path.join(dir, "ca.key"),
  };
}

let issued = 0;

/** Signs the request `<base>.csr` for `domain` with `ca`: the certificate, its key from `<base>.key`. */
function sign(ca: TestCa, base: string, domain: string, days: number): IssuedCertificate {
  fs.writeFileSync(
    path.join(ca.dir, `${base}.ext`),
    `subjectAltName=DNS:${domain}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${base}.csr`,
      "-CA",
      ca.certificatePath,
      "-CAkey",
      ca.keyPath,
      "-CAcreateserial",
      "-days",
      String(days),
      "-extfile",
      `${base}.ext`,
      "-out",
      `${base}.crt`,
    ],
    ca.dir,
  );
  const leaf = fs.readFileSync(path.join(ca.dir, `${base}.crt`), "utf8");
  const serial = openssl(["x509", "-in", `${base}.crt`, "-noout", "-serial"], ca.dir)
    .trim()
    .replace(/^serial=/, "");
  return { leaf, certificate: leaf + ca.certificate, privateKey: fs.readFileSync(path.join(ca.dir, `${base}.key`), "utf8"), serial };
}

/** A server certificate for `domain`, valid for `days` from now, signed by `ca`. */
export function issue(ca: TestCa, domain: string, days = 30): IssuedCertificate {
  const base = `leaf-${++issued}`;
  openssl(["req", "-new", ...EC_KEY, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${domain}`], ca.dir);
  return sign(ca, base, domain, days);
}

/** The same certificate renewed: a new serial and validity, the same key (so the same privateKey). */
export function renew(ca: TestCa, cert: IssuedCertificate, days = 30): IssuedCertificate {
  const base = `leaf-${++issued}`;
  fs.writeFileSync(path.join(ca.dir, `${base}.key`), cert.privateKey, { mode: 0o600 });
  const domain = new X509Certificate(cert.leaf).subject.replace(/^CN=/, "");
  openssl(["req", "-new", "-key", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${domain}`], ca.dir);
  return sign(ca, base, domain, days);
}

export function removeCa(ca: TestCa): void {
  fs.rmSync(ca.dir, { recursive: true, force: true });
}
