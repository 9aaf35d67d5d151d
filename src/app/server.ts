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

/** Starts the HTTPS API, the admin channel, and everything they need. */
export async function startServer(
  config: WardConfig,
  options: { now?: () => Date; log?: pino.DestinationStream } = {},
): Promise<RunningServer> {
  const logger = pino(
    { level: config.logLevel, base: { service: 'ward', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    options.log ?? pino.destination(1),
  );
  const ward = await openWard(config, { migrate: true, ...(options.now ? { now: options.now } : {}) });
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
    const http = await buildHttpApp({
      fhir: ward.fhir,
      auditor: ward.auditor,
      tokens: ward.tokens,
      baseUrl: config.baseUrl,
      version: WARD_VERSION,
      now: ward.now,
      bodyLimitBytes: config.bodyLimitBytes,
      ...(tls ? { https: tls } : {}),
      logger,
    });
    admin = await listenAdminChannel(ward, adminSocketPath(config.dataDir));
    await http.app.listen({ host: config.host, port: config.port });
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
