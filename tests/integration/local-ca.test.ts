import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  type ResourceRecordSet,
  Route53Client,
} from '@aws-sdk/client-route-53';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CertificateStore, type DvAuth } from '../../infra/local/certificate-store.js';
import { createLocalCa, type LocalCa, txtText } from '../../infra/local/local-ca.js';
import { type MotoServer, motoEnv, startMoto } from '../helpers/moto.js';

let moto: MotoServer;
let route53: Route53Client;
let store: CertificateStore;
let ca: LocalCa;
const zones: Record<string, string> = {};

async function createZone(key: string, name: string, vpc = false): Promise<void> {
  const out = await route53.send(
    new CreateHostedZoneCommand({
      Name: name,
      CallerReference: `${key}-${Date.now()}`,
      ...(vpc
        ? {
            VPC: { VPCRegion: 'us-east-1', VPCId: 'vpc-0test000000000001' },
            HostedZoneConfig: { PrivateZone: true },
          }
        : {}),
    }),
  );
  zones[key] = String(out.HostedZone?.Id).replace('/hostedzone/', '');
}

async function put(zone: string, set: ResourceRecordSet): Promise<void> {
  await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: zones[zone],
      ChangeBatch: { Changes: [{ Action: 'UPSERT', ResourceRecordSet: { TTL: 60, ...set } }] },
    }),
  );
}

function dvAuths(id: string): DvAuth[] {
  const cert = store.get(id) as { DvAuthDetail: { DvAuths: DvAuth[] } };
  return cert.DvAuthDetail.DvAuths;
}

function cname(auth: DvAuth, target = String(auth.DvAuthValue)): ResourceRecordSet {
  return { Name: String(auth.DvAuthKey), Type: 'CNAME', ResourceRecords: [{ Value: target }] };
}

beforeAll(async () => {
  moto = await startMoto();
  const aws = motoEnv(moto.endpoint);
  route53 = new Route53Client({
    endpoint: aws.AWS_ENDPOINT_URL,
    region: aws.AWS_REGION,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
});

afterAll(async () => {
  route53?.destroy();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  await createZone('public', 'example.com');
  await createZone('private', 'example.com', true);
  await createZone('sub', 'dev.example.com');
  store = new CertificateStore({ seed: 7 });
  ca = createLocalCa({ store, route53 });
});

describe('the local CA', () => {
  it('leaves a certificate pending while a validation record is missing', async () => {
    const id = String(
      store.addPending({ domain: 'www.example.com', altNames: ['api.example.com'] }).CertificateId,
    );
    const [www] = dvAuths(id);
    await put('public', cname(www as DvAuth));

    const check = await ca.check(id);

    expect(check?.issued).toBe(false);
    expect(check?.records.map((r) => r.found)).toEqual([true, false]);
    expect(store.get(id)?.Status).toBe(4);
  });

  it('issues a certificate with real PEMs once every CNAME is in its public zone', async () => {
    const id = String(
      store.addPending({ domain: 'www.example.com', altNames: ['api.example.com'] }).CertificateId,
    );
    for (const auth of dvAuths(id))
      await put('public', cname(auth, `${String(auth.DvAuthValue).toUpperCase()}.`));

    const check = await ca.check(id);

    expect(check).toMatchObject({ certificateId: id, issued: true });
    expect(store.get(id)).toMatchObject({
      Status: 1,
      CertificatePublicKey: expect.stringContaining('-----BEGIN CERTIFICATE-----'),
    });
  });

  it('issues apex and wildcard once both TXT values are at the one name', async () => {
    const id = String(
      store.addPending({ domain: 'example.com', altNames: ['*.example.com'], verifyType: 'TXT' })
        .CertificateId,
    );
    const values = dvAuths(id).map((auth) => ({ Value: `"${auth.DvAuthValue}"` }));
    await put('public', { Name: '_dnsauth.example.com', Type: 'TXT', ResourceRecords: values });

    expect((await ca.check(id))?.issued).toBe(true);
  });

  it('does not see a record written into a private zone of the same name', async () => {
    const id = String(store.addPending({ domain: 'www.example.com' }).CertificateId);
    await put('private', cname(dvAuths(id)[0] as DvAuth));

    expect((await ca.check(id))?.issued).toBe(false);
  });

  it('does not see a record written into the parent of a delegated sub-zone', async () => {
    const id = String(store.addPending({ domain: 'api.dev.example.com' }).CertificateId);
    await put('public', cname(dvAuths(id)[0] as DvAuth));

    const check = await ca.check(id);

    expect(check?.records[0]).toMatchObject({ found: false, zone: 'dev.example.com' });
    expect(store.get(id)?.Status).toBe(4);
  });

  it('does not accept a CNAME pointing elsewhere', async () => {
    const id = String(store.addPending({ domain: 'www.example.com' }).CertificateId);
    await put('public', cname(dvAuths(id)[0] as DvAuth, 'elsewhere.example.net'));

    expect((await ca.check(id))?.issued).toBe(false);
  });

  it('checks every pending certificate before a listing is answered', async () => {
    const ready = String(store.addPending({ domain: 'www.example.com' }).CertificateId);
    const waiting = String(store.addPending({ domain: 'shop.example.com' }).CertificateId);
    await put('public', cname(dvAuths(ready)[0] as DvAuth));

    const answer = await ca.onAction({
      action: 'DescribeCertificates',
      params: {},
      requestId: 'r1',
      secretId: 'AKID',
      store,
    });

    expect(answer).toBeUndefined();
    expect(store.get(ready)?.Status).toBe(1);
    expect(store.get(waiting)?.Status).toBe(4);
  });

  it('checks in the background after CompleteCertificate, leaving the answer to the server', async () => {
    const id = String(store.addPending({ domain: 'www.example.com' }).CertificateId);
    await put('public', cname(dvAuths(id)[0] as DvAuth));

    const answer = await ca.onAction({
      action: 'CompleteCertificate',
      params: { CertificateId: id },
      requestId: 'r2',
      secretId: 'AKID',
      store,
    });
    expect(answer).toBeUndefined();
    await ca.idle();

    expect(store.get(id)?.Status).toBe(1);
  });

  it('reports an unreachable Route53 and issues nothing', async () => {
    const id = String(store.addPending({ domain: 'www.example.com' }).CertificateId);
    const offline = new Route53Client({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });

    const check = await createLocalCa({ store, route53: offline }).check(id);
    offline.destroy();

    expect(check?.error).toBeTruthy();
    expect(store.get(id)?.Status).toBe(4);
  });
});

describe('txtText', () => {
  it('closes an order whose validation deadline passed (status 2), even with its records in place', async () => {
    const id = String(
      store.addPending({ domain: 'www.example.com', dvAuthDeadline: new Date(Date.now() - 1000) })
        .CertificateId,
    );
    for (const auth of dvAuths(id)) await put('public', cname(auth));

    const check = await ca.check(id);

    expect(check).toMatchObject({ certificateId: id, rejected: true, issued: false });
    expect(store.get(id)).toMatchObject({ Status: 2, StatusName: 'review failed' });
  });

  it('joins the character-strings of one TXT value and unescapes quotes', () => {
    expect(txtText('"part one" "part \\"two\\""')).toBe('part onepart "two"');
  });
});
