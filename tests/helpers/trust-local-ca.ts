/**
 * Every test process trusts the local test CA, as a process started with NODE_EXTRA_CA_CERTS
 * naming its root would: the command line, the Lambda handlers and the sandbox run in-process in
 * the tests, and export only what chains to a root Node trusts. `tls.setDefaultCACertificates`
 * is how a running process adds one. A CA nobody trusts is `createTestPki({ fresh: true })`.
 */
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { createTestPki } from '../../infra/local/pki.js';

const pki = await createTestPki();
setDefaultCACertificates([...getCACertificates('default'), pki.rootPem]);
