// fleet:tls checked without Pulumi, against real certificates made by openssl.
import { strict as assert } from "assert";
import { X509Certificate } from "crypto";
import { SECURE_PLACEHOLDER } from "../../config/stackFiles";
import { checkTlsConfig, TlsContext } from "../../config/tlsConfig";
import { IssuedCertificate, issue, makeCa, removeCa, TestCa } from "../helpers/certificates";

const APPS = [
  { name: "polls", domain: "polls.example.edu" },
  { name: "library-catalogue", domain: "catalogue.library.example.edu" },
];

/** The certificates and warnings of a valid fleet:tls, or its first problem. */
function tlsResult(
  raw: unknown,
  ctx: TlsContext,
): { certificates?: ReturnType<typeof checkTlsConfig>["certificates"]; warnings?: string[]; error?: string } {
  const check = checkTlsConfig(raw, ctx);
  return check.errors.length > 0 ? { error: check.errors[0] } : { certificates: check.certificates, warnings: check.warnings };
}

describe("fleet:tls (certificates per app, checked before anything is declared)", () => {
  let ca: TestCa;
  let otherCa: TestCa;
  let polls: IssuedCertificate;
  let catalogue: IssuedCertificate;
  let now: Date;

  before(() => {
    ca = makeCa();
    otherCa = makeCa("Another CA");
    polls = issue(ca, "polls.example.edu");
    catalogue = issue(ca, "catalogue.library.example.edu", 10);
    now = new Date();
  });
  after(() => {
    removeCa(ca);
    removeCa(otherCa);
  });

  const fileText = () =>
    `config:\n  aws:region: eu-west-1\n  fleet:tls:\n    polls:\n      certificate: |\n${polls.certificate
      .trimEnd()
      .split("\n")
      .map((l) => `        ${l}`)
      .join("\n")}\n      privateKey:\n        secure: v1:abc\n`;
  const ctx = (over: Partial<TlsContext> = {}): TlsContext => ({
    apps: APPS,
    stack: "alpha",
    file: "Pulumi.alpha.yaml",
    fileText: fileText(),
    now,
    ...over,
  });

  it("takes each app's chain and key, as PEM text with one final newline", () => {
    const r = tlsResult(
      { polls: { certificate: polls.certificate.trimEnd(), privateKey: polls.privateKey.replace(/\n/g, "\r\n") } },
      ctx(),
    );
    assert.equal(r.error, undefined);
    assert.deepEqual(Object.keys(r.certificates ?? {}), ["polls"]);
    assert.equal(r.certificates?.polls.certificate, polls.certificate);
    assert.equal(r.certificates?.polls.privateKey, polls.privateKey);
    assert.deepEqual(r.warnings, []);
  });

  it("no fleet:tls: no certificates, every app on plain HTTP", () => {
    assert.deepEqual(tlsResult(undefined, ctx()), { certificates: {}, warnings: [] });
  });

  it("refuses a certificate for another name, naming the file line and both names", () => {
    const r = tlsResult({ polls: { certificate: catalogue.certificate, privateKey: catalogue.privateKey } }, ctx());
    assert.equal(
      r.error,
      "Pulumi.alpha.yaml:5:20: fleet:tls.polls.certificate: is for DNS:catalogue.library.example.edu, not polls.example.edu",
    );
  });

  it("refuses a key that does not belong to the certificate, without quoting the key", () => {
    const r = tlsResult({ polls: { certificate: polls.certificate, privateKey: catalogue.privateKey } }, ctx());
    assert.match(
      r.error ?? "",
      /^Pulumi\.alpha\.yaml:\d+:\d+: fleet:tls\.polls\.privateKey: is not the key of the certificate for polls\.example\.edu/,
    );
    assert.ok(!(r.error ?? "").includes("PRIVATE KEY"));
    const garbage = tlsResult(
      { polls: { certificate: polls.certificate, privateKey: "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXZhbHVl\n-----END PRIVATE KEY-----" } },
      ctx(),
    );
    assert.match(garbage.error ?? "", /fleet:tls\.polls\.privateKey: is not an unencrypted PEM private key$/);
    assert.ok(!(garbage.error ?? "").includes("c2VjcmV0LXZhbHVl"));
  });

  it("refuses a chain out of order or from another CA, and a CA certificate first", () => {
    const reversed = tlsResult({ polls: { certificate: ca.certificate + polls.leaf, privateKey: polls.privateKey } }, ctx());
    assert.match(
      reversed.error ?? "",
      /fleet:tls\.polls\.certificate: the first certificate is a CA certificate|certificate 2 did not issue certificate 1/,
    );
    const foreign = tlsResult({ polls: { certificate: polls.leaf + otherCa.certificate, privateKey: polls.privateKey } }, ctx());
    assert.match(
      foreign.error ?? "",
      /fleet:tls\.polls\.certificate: certificate 2 did not issue certificate 1: give the server certificate first, then its intermediates in order/,
    );
    assert.match(
      tlsResult({ polls: { certificate: "not a certificate", privateKey: polls.privateKey } }, ctx()).error ?? "",
      /must be PEM/,
    );
  });

  it("refuses apps that do not run on the stack, unknown keys and missing values", () => {
    assert.equal(
      tlsResult({ wiki: { certificate: polls.certificate, privateKey: polls.privateKey } }, ctx()).error,
      'Pulumi.alpha.yaml:4:5: fleet:tls.wiki: no app "wiki" runs on stack alpha (apps here: polls, library-catalogue)',
    );
    assert.match(
      tlsResult({ polls: { certificate: polls.certificate, privateKey: polls.privateKey, chain: "x" } }, ctx()).error ?? "",
      /fleet:tls\.polls\.chain: unknown key; allowed: certificate, privateKey/,
    );
    assert.match(tlsResult({ polls: { certificate: polls.certificate } }, ctx()).error ?? "", /fleet:tls\.polls\.privateKey: is required/);
    assert.match(tlsResult(["polls"], ctx()).error ?? "", /^Pulumi\.alpha\.yaml:4:5: fleet:tls: must be a mapping/);
  });

  it("warns (does not refuse) when a certificate expires soon or has expired: a rollback must still be possible", () => {
    const soon = tlsResult({ "library-catalogue": { certificate: catalogue.certificate, privateKey: catalogue.privateKey } }, ctx());
    assert.equal(soon.error, undefined);
    assert.equal(soon.warnings?.length, 1);
    assert.match(
      soon.warnings?.[0] ?? "",
      /^library-catalogue: the certificate for catalogue\.library\.example\.edu expires in (9|10) day\(s\) .*: renew it and set fleet:tls\.library-catalogue\.certificate$/,
    );
    const later = new Date(new X509Certificate(polls.leaf).validTo).getTime() + 1000;
    const expired = tlsResult({ polls: { certificate: polls.certificate, privateKey: polls.privateKey } }, ctx({ now: new Date(later) }));
    assert.equal(expired.error, undefined);
    assert.match(expired.warnings?.[0] ?? "", /^polls: the certificate for polls\.example\.edu EXPIRED on /);
  });

  it("offline (key not decryptable), checks the certificate and leaves the key to the real run", () => {
    const r = tlsResult({ polls: { certificate: polls.certificate, privateKey: SECURE_PLACEHOLDER } }, ctx());
    assert.equal(r.error, undefined);
    assert.deepEqual(Object.keys(r.certificates ?? {}), ["polls"]);
  });
});
