/**
 * Starts the local Tencent SSL API server with a few sample certificates and prints how to point
 * the CLI at it. Stops on Ctrl-C.
 */
import { CertificateStore } from './certificate-store.js';
import { startTencentServer } from './tencent-server.js';

const credentials = {
  secretId: 'AKIDLOCALSANDBOX0000000000000000',
  secretKey: 'local-sandbox-secret-key-00000000',
};
const port = Number(process.env.PORT ?? 0);

const store = new CertificateStore({ seed: 1 });
store.addPending({ domain: 'www.example.com' });
store.addPending({ domain: 'example.com', altNames: ['*.example.com'], verifyType: 'TXT' });
store.addPending({
  domain: 'shop.example.net',
  altNames: ['api.example.net'],
  verifyType: 'mixed',
  status: 0,
});
await store.addIssued({ domain: 'mail.example.com' });

const server = await startTencentServer({ port, credentials: [credentials], store });

process.stdout.write(`Local Tencent SSL API server listening on ${server.url}
${store.size} certificates: ${store
  .list()
  .map((c) => `${String(c.CertificateId)} ${String(c.Domain)} (status ${String(c.Status)})`)
  .join(', ')}

Point the CLI at it (Route53 calls still go wherever your AWS configuration says):
  export TENCENTCLOUD_SSL_ENDPOINT=${server.url}
  export TENCENTCLOUD_SECRET_ID=${credentials.secretId}
  export TENCENTCLOUD_SECRET_KEY=${credentials.secretKey}
  npm run cli -- status

Ctrl-C stops it.
`);

const stop = async () => {
  await server.close();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
