import { X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  readonly caCertPath: string;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/**
 * The development TLS identity: a local CA (tls/ca.pem, key 0600) and a server certificate it
 * issues for localhost and the configured host. Created on first start and reused while it has more
 * than 30 days to run; clients trust it with NODE_EXTRA_CA_CERTS=$WARD_DATA_DIR/tls/ca.pem.
 */
export async function loadOrCreateDevTls(dataDir: string, hostNames: readonly string[]): Promise<TlsMaterial> {
  const dir = join(dataDir, 'tls');
  const paths = {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server-key.pem'),
  };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);

  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...hostNames])];
  if (existsSync(paths.cert) && existsSync(paths.key) && existsSync(paths.caCert) && stillGood(paths.cert, names)) {
    return { key: readFileSync(paths.key, 'utf8'), cert: readFileSync(paths.cert, 'utf8'), caCertPath: paths.caCert };
  }

  let caKeys: CryptoKeyPair;
  let caCert: x509.X509Certificate;
  if (existsSync(paths.caCert) && existsSync(paths.caKey)) {
    caCert = new x509.X509Certificate(readFileSync(paths.caCert, 'utf8'));
    const privateKey = await webcrypto.subtle.importKey(
      'pkcs8',
      x509.PemConverter.decodeFirst(readFileSync(paths.caKey, 'utf8')),
      ALGORITHM,
      true,
      ['sign'],
    );
    caKeys = { privateKey: privateKey as unknown as CryptoKey, publicKey: await caCert.publicKey.export() };
  } else {
    caKeys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
    caCert = await x509.X509CertificateGenerator.createSelfSigned({
      name: 'CN=Ward local development CA',
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 3650 * DAY_MS),
      keys: caKeys,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    });
    writeFileSync(paths.caKey, await exportPkcs8(caKeys.privateKey), { mode: 0o600 });
    writeFileSync(paths.caCert, caCert.toString('pem'), { mode: 0o644 });
  }

  const serverKeys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const serverCert = await x509.X509CertificateGenerator.create({
    subject: 'CN=localhost',
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 397 * DAY_MS),
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((n) => (isIp(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const key = await exportPkcs8(serverKeys.privateKey);
  const cert = serverCert.toString('pem');
  writeFileSync(paths.key, key, { mode: 0o600 });
  writeFileSync(paths.cert, cert, { mode: 0o644 });
  return { key, cert, caCertPath: paths.caCert };
}

function stillGood(certPath: string, names: readonly string[]): boolean {
  const cert = new NodeX509(readFileSync(certPath));
  if (new Date(cert.validTo).getTime() - Date.now() < 30 * DAY_MS) return false;
  return names.every((n) => (isIp(n) ? cert.checkIP(n) !== undefined : cert.checkHost(n) !== undefined));
}

function isIp(name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(':');
}

async function exportPkcs8(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}
