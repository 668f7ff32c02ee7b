import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

/** A certificate authority made at test time, and a server certificate it signed. */
export type TestCertificates = {
  /** The CA certificate (PEM): what clients trust, via `ca` or NODE_EXTRA_CA_CERTS. */
  ca: string;
  /** The server's certificate (PEM) for 127.0.0.1 and localhost. */
  cert: string;
  /** The server's private key (PEM). */
  key: string;
};

let made: TestCertificates | undefined;

/**
 * The test CA and a 127.0.0.1 server certificate, made once per test process: every
 * fake provider in it serves the same certificate, and clients trust the same CA.
 */
export function testCertificates(): TestCertificates {
  made ??= makeCertificates();
  return made;
}

function makeCertificates(): TestCertificates {
  const caKeys = rsaKeyPair();
  const caName = [{ name: "commonName", value: "Nudge Test CA" }];
  const ca = newCertificate(caKeys.publicKey, caName, caName, [
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const serverKeys = rsaKeyPair();
  const server = newCertificate(
    serverKeys.publicKey,
    [{ name: "commonName", value: "127.0.0.1" }],
    caName,
    [
      { name: "basicConstraints", cA: false },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 7, ip: "127.0.0.1" },
          { type: 2, value: "localhost" },
        ],
      },
    ],
  );
  server.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    ca: forge.pki.certificateToPem(ca),
    cert: forge.pki.certificateToPem(server),
    key: forge.pki.privateKeyToPem(serverKeys.privateKey),
  };
}

// Node makes the keys (forge's own RSA key generation is slow pure JS).
function rsaKeyPair(): forge.pki.rsa.KeyPair {
  const { privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const key = forge.pki.privateKeyFromPem(privateKey);
  return {
    privateKey: key,
    publicKey: forge.pki.setRsaPublicKey(key.n, key.e),
  };
}

function newCertificate(
  publicKey: forge.pki.PublicKey,
  subject: forge.pki.CertificateField[],
  issuer: forge.pki.CertificateField[],
  extensions: object[],
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive serial: forge writes the hex as given, and a leading 8–f is negative.
  cert.serialNumber = `01${randomBytes(8).toString("hex")}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  cert.setSubject(subject);
  cert.setIssuer(issuer);
  cert.setExtensions(extensions);
  return cert;
}
