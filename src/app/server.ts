import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { loadOrCreateDevTls } from '../crypto/index.js';
import { buildHttpApp, type HttpApp } from '../edge/index.js';
import { adminSocketPath, listenAdminChannel } from './admin-channel.js';
import type { WardConfig } from './config.js';
import { WARD_VERSION } from './version.js';
import { openWard, type Ward } from './ward.js';

export interface RunningServer {
  readonly ward: Ward;
  readonly http: HttpApp;
  readonly url: string;
  readonly caCertPath?: string;
  stop(): Promise<void>;
}

/** The HTTP edge over one Ward (the server's, and the tests' through Fastify inject). */
export function buildWardHttpApp(
  ward: Ward,
  options: { https?: { key: string; cert: string }; logger: pino.Logger | false },
): Promise<HttpApp> {
  return buildHttpApp({
    fhir: ward.fhir,
    bundles: ward.bundles,
    auditor: ward.auditor,
    organizationPolicy: ward.organizationPolicy,
    tokens: ward.smart.bearer,
    identity: ward.identity,
    smart: ward.smart,
    admin: ward.admin,
    baseUrl: ward.config.baseUrl,
    version: WARD_VERSION,
    now: ward.now,
    bodyLimitBytes: ward.config.bodyLimitBytes,
    auditKey: { keyId: ward.auditKey.keyId, publicKeyPem: ward.auditKey.publicKeyPem },
    clock: () => ward.clock(),
    ...(options.https ? { https: options.https } : {}),
    logger: options.logger,
  });
}

/** Starts the HTTPS API, the admin channel, and everything they need. */
export async function startServer(
  config: WardConfig,
  options: { now?: () => Date; log?: pino.DestinationStream } = {},
): Promise<RunningServer> {
  const logger = pino(
    { level: config.logLevel, base: { service: 'ward', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    options.log ?? pino.destination(1),
  );
  const ward = await openWard(config, {
    migrate: true,
    ...(options.now ? { now: options.now } : {}),
    onOAuthError: (error) => logger.error({ errorName: error.name }, 'authorization server error'),
    onSealerEvent: (event) => {
      if (event.kind === 'sealed') logger.debug(event, 'audit head signed');
      else logger.error(event, 'audit sealer problem');
    },
  });
  let admin: Server | undefined;
  try {
    let tls: { key: string; cert: string } | undefined;
    let caCertPath: string | undefined;
    if (!config.insecureHttp) {
      if (config.tlsCertFile && config.tlsKeyFile) {
        tls = { cert: readFileSync(config.tlsCertFile, 'utf8'), key: readFileSync(config.tlsKeyFile, 'utf8') };
      } else {
        const dev = await loadOrCreateDevTls(
          config.dataDir,
          [config.host].filter((h) => !['0.0.0.0', '::'].includes(h)),
        );
        tls = { key: dev.key, cert: dev.cert };
        caCertPath = dev.caCertPath;
      }
    }
    const http = await buildWardHttpApp(ward, { ...(tls ? { https: tls } : {}), logger });
    admin = await listenAdminChannel(ward, adminSocketPath(config.dataDir));
    await http.app.listen({ host: config.host, port: config.port });
    ward.sealer.start(config.auditSealIntervalMs);
    const reportClock = (clock: ReturnType<Ward['clock']>) => {
      if (!clock.synchronized) logger.warn({ clock }, "this host's clock is off the database server's; audit times may be wrong");
    };
    reportClock(ward.clock());
    const clockTimer = setInterval(() => {
      ward.recheckClock().then(reportClock, (e: unknown) => logger.error({ error: (e as Error).message }, 'clock check failed'));
    }, 60_000);
    clockTimer.unref();
    const address = http.app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `${config.insecureHttp ? 'http' : 'https'}://${config.host === 'localhost' || config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
    writeFileSync(join(config.dataDir, 'server.pid'), `${process.pid}\n`, { mode: 0o600 });
    logger.info({ url, engine: ward.db.engine, version: WARD_VERSION }, 'ward listening');
    const adminServer = admin;
    return {
      ward,
      http,
      url,
      ...(caCertPath ? { caCertPath } : {}),
      async stop() {
        clearInterval(clockTimer);
        await http.app.close();
        await new Promise<void>((r) => adminServer.close(() => r()));
        await ward.close();
        rmSync(join(config.dataDir, 'server.pid'), { force: true });
      },
    };
  } catch (e) {
    admin?.close();
    await ward.close();
    throw e;
  }
}
