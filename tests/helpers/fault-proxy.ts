/**
 * A fault-injecting HTTP proxy in front of moto: the AWS SDK is pointed at it through
 * AWS_ENDPOINT_URL, it forwards every request to moto (keep-alive, bodies streamed) and records
 * it, and by rule it answers some requests itself with the errors AWS sends under load. moto has
 * no fault knobs of its own, so this is how the SDK's retries and the product's reports meet
 * throttling and outages on the AWS side.
 */
import { randomUUID } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from '../../infra/local/certificate-store.js';

type AwsService = 'route53' | 'secretsmanager' | 'acm' | 'moto' | 'unknown';

/** What a request asks AWS to do, told from its method and path (Route53) or its target header (JSON APIs). */
interface AwsOperation {
  service: AwsService;
  /** The API operation, e.g. `ChangeResourceRecordSets`, `PutSecretValue`; `Unknown` when not recognised. */
  operation: string;
  /** Route53 requests under `/hostedzone/<id>`: the bare zone id. */
  hostedZoneId?: string;
}

export type AwsFault =
  /** Route53: HTTP 400 `Throttling`; Secrets Manager: HTTP 400 `ThrottlingException`. */
  | { kind: 'throttling' }
  /** Route53's HTTP 400 while an earlier change to the zone is still being applied. */
  | { kind: 'prior-request-not-complete' }
  /** A server error (500, 503, …) in the service's own error shape. */
  | { kind: 'http'; status: number };

interface AwsFaultRule {
  service?: AwsService;
  operation?: string;
  hostedZoneId?: string;
  /** How many requests to answer with the fault. Default: no limit. */
  times?: number;
  /** Chance per matching request, drawn from the seeded generator. Default 1. */
  probability?: number;
  fault: AwsFault;
}

interface InjectedAwsFault {
  readonly rule: AwsFaultRule;
  /** Requests this rule has answered so far. */
  readonly hits: number;
  remove(): void;
}

export interface ProxiedRequest extends AwsOperation {
  method: string;
  path: string;
  /** The request body as text (every body these APIs take is XML or JSON). */
  body: string;
  /** HTTP status the client received. */
  status: number;
  /**
   * `upstream` when moto answered; `fault` when the proxy answered with an injected fault;
   * `rules` when it refused a change batch as Route53 would.
   */
  answeredBy: 'upstream' | 'fault' | 'rules';
  fault?: AwsFault['kind'];
}

interface RequestFilter {
  service?: AwsService;
  operation?: string;
  hostedZoneId?: string;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT`: the value for AWS_ENDPOINT_URL. */
  endpoint: string;
  /** Every completed request, in completion order. */
  readonly requests: readonly ProxiedRequest[];
  inject(rule: AwsFaultRule): InjectedAwsFault;
  /** Removes every rule. */
  clearFaults(): void;
  /** Restarts the generator behind `probability`. */
  reseed(seed: number): void;
  /** Forgets the recorded requests. */
  resetRecords(): void;
  /** Requests moto answered, optionally only those matching `filter`. */
  forwarded(filter?: RequestFilter): ProxiedRequest[];
  /** Requests the proxy answered with a fault. */
  faulted(filter?: RequestFilter): ProxiedRequest[];
  /** Change batches refused as Route53 refuses them (a DELETE not as the set is, a CREATE over one). */
  refused(filter?: RequestFilter): ProxiedRequest[];
  close(): Promise<void>;
}

const ROUTE53_PREFIX = '/2013-04-01/';
const ROUTE53_NAMESPACE = 'https://route53.amazonaws.com/doc/2013-04-01/';
// Hop-by-hop headers belong to one connection and are not passed on (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Names the AWS operation of a request the SDK sent. */
function classifyAwsRequest(method: string, url: string, headers: IncomingHttpHeaders): AwsOperation {
  const target = header(headers, 'x-amz-target');
  if (target) {
    const [prefix, operation = 'Unknown'] = target.split('.');
    const service =
      prefix === 'secretsmanager' ? 'secretsmanager' : prefix === 'CertificateManager' ? 'acm' : 'unknown';
    return { service, operation };
  }
  const path = url.split('?')[0] ?? '';
  if (path.startsWith('/moto-api')) return { service: 'moto', operation: path };
  if (!path.startsWith(ROUTE53_PREFIX)) return { service: 'unknown', operation: 'Unknown' };

  const rest = path.slice(ROUTE53_PREFIX.length).replace(/\/$/, '');
  const verb = method.toUpperCase();
  const zone = /^hostedzone\/([^/]+)(\/.*)?$/.exec(rest);
  if (zone) {
    const hostedZoneId = decodeURIComponent(zone[1] as string);
    const tail = zone[2] ?? '';
    const operation =
      tail === '/rrset'
        ? verb === 'POST'
          ? 'ChangeResourceRecordSets'
          : 'ListResourceRecordSets'
        : tail === ''
          ? verb === 'GET'
            ? 'GetHostedZone'
            : verb === 'DELETE'
              ? 'DeleteHostedZone'
              : 'Unknown'
          : 'Unknown';
    return { service: 'route53', operation, hostedZoneId };
  }
  if (rest === 'hostedzone') {
    return { service: 'route53', operation: verb === 'POST' ? 'CreateHostedZone' : 'ListHostedZones' };
  }
  if (rest.startsWith('change/')) return { service: 'route53', operation: 'GetChange' };
  return { service: 'route53', operation: 'Unknown' };
}

function matches(operation: AwsOperation, filter: RequestFilter | undefined): boolean {
  if (!filter) return true;
  return (
    (filter.service === undefined || filter.service === operation.service) &&
    (filter.operation === undefined || filter.operation === operation.operation) &&
    (filter.hostedZoneId === undefined || filter.hostedZoneId === operation.hostedZoneId)
  );
}

const HTTP_ERROR_CODES: Readonly<Record<number, string>> = {
  500: 'InternalFailure',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/** The answer AWS gives for `fault`, in the shape of `service`'s protocol (REST-XML or JSON 1.1). */
function faultAnswer(
  fault: AwsFault,
  service: AwsService,
): { status: number; headers: Record<string, string>; body: string } {
  const requestId = randomUUID();
  const [status, code, message, type] =
    fault.kind === 'throttling'
      ? [400, service === 'route53' ? 'Throttling' : 'ThrottlingException', 'Rate exceeded', 'Sender']
      : fault.kind === 'prior-request-not-complete'
        ? [
            400,
            'PriorRequestNotComplete',
            'The request was rejected because Route 53 was still processing a prior request.',
            'Sender',
          ]
        : [fault.status, HTTP_ERROR_CODES[fault.status] ?? 'InternalFailure', 'Injected failure', 'Receiver'];
  if (service === 'route53') {
    return {
      status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: `<?xml version="1.0"?>\n<ErrorResponse xmlns="${ROUTE53_NAMESPACE}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    };
  }
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': code,
    },
    body: JSON.stringify({ __type: code, message }),
  };
}

/*
 * What real Route53 checks and moto does not: a DELETE must name a record set exactly as it is
 * (values and TTL), a CREATE must not meet a set that exists, and a CNAME shares its name with no
 * other record. A batch is checked as a whole against moto's current sets, one batch per zone at a
 * time, and refused as Route53 refuses it (HTTP 400 InvalidChangeBatch, every problem listed); so
 * tests of conditional writes and concurrent writers mean what they would against AWS.
 */

interface CurrentSet {
  name: string;
  type: string;
  ttl: string | undefined;
  values: string[];
}

/** A fake Signature V4 header: moto routes a request to a service by its credential scope, and checks nothing else. */
const ROUTE53_AUTH =
  'AWS4-HMAC-SHA256 Credential=proxy/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=0';

const fqdn = (name: string) => `${name.toLowerCase().replace(/\.$/, '')}.`;
const sameValues = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().every((value, index) => value === [...b].sort()[index]);

function parseSets(xml: string): CurrentSet[] {
  return [...xml.matchAll(/<ResourceRecordSet>([\s\S]*?)<\/ResourceRecordSet>/g)].map((match) => {
    const set = match[1] as string;
    return {
      name: fqdn(element(set, 'Name') ?? ''),
      type: element(set, 'Type') ?? '',
      ttl: element(set, 'TTL'),
      values: [...set.matchAll(/<Value>([\s\S]*?)<\/Value>/g)].map((value) => xmlText(value[1] as string)),
    };
  });
}

/** The problems Route53 would report for `changes` against `current`, applied in order. */
function route53BatchProblems(
  changes: Array<RecordSetChange & { ttl: string | undefined }>,
  current: CurrentSet[],
  zoneName: string,
): string[] {
  const sets = new Map(current.map((set) => [`${set.name}|${set.type}`, set]));
  const problems: string[] = [];
  for (const change of changes) {
    const name = fqdn(change.name);
    const key = `${name}|${change.type}`;
    const label = `[name='${name}', type='${change.type}']`;
    const existing = sets.get(key);
    const others = [...sets.values()].filter((set) => set.name === name && set.type !== change.type);
    if (change.action === 'DELETE') {
      if (!existing) problems.push(`Tried to delete resource record set ${label} but it was not found`);
      else if (existing.ttl !== change.ttl || !sameValues(existing.values, change.values))
        problems.push(
          `Tried to delete resource record set ${label} but the values provided do not match the current values`,
        );
      else sets.delete(key);
      continue;
    }
    if (change.action === 'CREATE' && existing) {
      problems.push(`Tried to create resource record set ${label} but it already exists`);
      continue;
    }
    const cnameClash =
      (change.type === 'CNAME' && others.length > 0) ||
      (change.type !== 'CNAME' && others.some((set) => set.type === 'CNAME'));
    if (cnameClash) {
      problems.push(
        `RRSet of type ${change.type} with DNS name ${name} is not permitted as it conflicts with other records with the same DNS name in zone ${fqdn(zoneName)}`,
      );
      continue;
    }
    sets.set(key, { name, type: change.type, ttl: change.ttl, values: change.values });
  }
  return problems;
}

function invalidChangeBatch(problems: string[]): {
  status: number;
  headers: Record<string, string>;
  body: string;
} {
  const requestId = randomUUID();
  const message = xmlEscape(`[${problems.join(', ')}]`);
  return {
    status: 400,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0"?>\n<ErrorResponse xmlns="${ROUTE53_NAMESPACE}"><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>${message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

function xmlEscape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** Answers in the proxy's own name (a fault, a refused batch). */
function send(
  res: ServerResponse,
  answer: { status: number; headers: Record<string, string>; body: string },
): void {
  res.writeHead(answer.status, {
    ...answer.headers,
    'content-length': String(Buffer.byteLength(answer.body)),
  });
  res.end(answer.body);
}

/** Starts the proxy on a free loopback port, forwarding to `target` (moto's endpoint). */
export async function startFaultProxy(options: {
  target: string;
  seed?: number;
  /** Check change batches as Route53 does (default true); off, moto's own leniency shows through. */
  route53Rules?: boolean;
}): Promise<FaultProxy> {
  const target = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const enforce = options.route53Rules ?? true;
  /** One change batch per zone at a time: checked and applied as one step, as Route53 does. */
  const zoneLocks = new Map<string, Promise<void>>();
  let random = seededRandom(options.seed ?? 1);
  let rules: Array<{ rule: AwsFaultRule; hits: number }> = [];
  const requests: ProxiedRequest[] = [];

  /** The first rule that applies to this request, its `times` spent; undefined to forward. */
  function decide(operation: AwsOperation): AwsFault | undefined {
    for (const entry of rules) {
      const { rule } = entry;
      if (!matches(operation, rule)) continue;
      if (rule.times !== undefined && entry.hits >= rule.times) continue;
      if (rule.probability !== undefined && rule.probability < 1 && random() >= rule.probability) continue;
      entry.hits += 1;
      return rule.fault;
    }
    return undefined;
  }

  async function motoGet(path: string): Promise<string> {
    const answer = await fetch(new URL(path, target), { headers: { authorization: ROUTE53_AUTH } });
    return answer.text();
  }

  async function currentSets(
    zoneId: string,
    names: string[],
  ): Promise<{ sets: CurrentSet[]; zoneName: string }> {
    const zone = await motoGet(`${ROUTE53_PREFIX}hostedzone/${encodeURIComponent(zoneId)}`);
    const zoneName = element(zone, 'Name') ?? '';
    const sets: CurrentSet[] = [];
    for (const name of new Set(names.map(fqdn))) {
      const xml = await motoGet(
        `${ROUTE53_PREFIX}hostedzone/${encodeURIComponent(zoneId)}/rrset?name=${encodeURIComponent(name)}&maxitems=100`,
      );
      sets.push(...parseSets(xml).filter((set) => set.name === name));
    }
    return { sets, zoneName };
  }

  /** Runs `work` alone for the zone: batches to one zone are checked and applied one at a time. */
  async function exclusive<T>(zoneId: string, work: () => Promise<T>): Promise<T> {
    const before = zoneLocks.get(zoneId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    zoneLocks.set(
      zoneId,
      before.then(() => mine),
    );
    await before;
    try {
      return await work();
    } finally {
      release();
    }
  }

  function collect(req: IncomingMessage): () => string {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    return () => Buffer.concat(chunks).toString('utf8');
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const operation = classifyAwsRequest(method, path, req.headers);
    const body = collect(req);
    const fault = operation.service === 'moto' ? undefined : decide(operation);

    if (fault) {
      // The body is read to its end first, so the client's keep-alive connection stays usable.
      req.on('end', () => {
        const answer = faultAnswer(fault, operation.service);
        send(res, answer);
        requests.push({
          ...operation,
          method,
          path,
          body: body(),
          status: answer.status,
          answeredBy: 'fault',
          fault: fault.kind,
        });
      });
      req.resume();
      return;
    }

    if (enforce && operation.operation === 'ChangeResourceRecordSets' && operation.hostedZoneId) {
      const zoneId = operation.hostedZoneId;
      req.on('end', () => {
        const text = body();
        void exclusive(zoneId, async () => {
          const changes = recordSetChangesWithTtl(text);
          const { sets, zoneName } = await currentSets(
            zoneId,
            changes.map((change) => change.name),
          );
          const problems = route53BatchProblems(changes, sets, zoneName);
          if (problems.length > 0) {
            send(res, invalidChangeBatch(problems));
            requests.push({
              ...operation,
              method,
              path,
              body: text,
              status: 400,
              answeredBy: 'rules',
            });
            return;
          }
          await forward(req, res, operation, method, path, () => text, Buffer.from(forMoto(text)));
        }).catch((error: Error) => {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`proxy: ${error.message}`);
        });
      });
      req.resume();
      return;
    }
    void forward(req, res, operation, method, path, body);
  }

  /** Passes the request to moto and its answer back; `buffered`: the body, already read. */
  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    operation: AwsOperation,
    method: string,
    path: string,
    body: () => string,
    buffered?: Buffer,
  ): Promise<void> {
    const headers: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name)) headers[name] = value;
    }
    if (buffered) headers['content-length'] = String(buffered.byteLength);
    const finished = new Promise<void>((resolve) => {
      res.on('finish', resolve);
      res.on('close', resolve);
    });
    const upstream = httpRequest(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method,
        path,
        headers,
        agent,
      },
      (answer) => {
        const status = answer.statusCode ?? 502;
        const passed: IncomingHttpHeaders = {};
        for (const [name, value] of Object.entries(answer.headers)) {
          if (!HOP_BY_HOP.has(name)) passed[name] = value;
        }
        res.writeHead(status, passed);
        answer.pipe(res);
        answer.on('end', () => {
          requests.push({ ...operation, method, path, body: body(), status, answeredBy: 'upstream' });
        });
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: ${error.message}`);
    });
    if (buffered) upstream.end(buffered);
    else req.pipe(upstream);
    return finished;
  }

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const select = (answeredBy: ProxiedRequest['answeredBy'], filter?: RequestFilter) =>
    requests.filter((request) => request.answeredBy === answeredBy && matches(request, filter));

  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    inject(rule) {
      if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
        throw new RangeError('probability must be between 0 and 1');
      }
      const entry = { rule, hits: 0 };
      rules.push(entry);
      return {
        rule,
        get hits() {
          return entry.hits;
        },
        remove: () => {
          rules = rules.filter((candidate) => candidate !== entry);
        },
      };
    },
    clearFaults() {
      rules = [];
    },
    reseed(seed) {
      random = seededRandom(seed);
    },
    resetRecords() {
      requests.length = 0;
    },
    forwarded: (filter) => select('upstream', filter),
    faulted: (filter) => select('fault', filter),
    refused: (filter) => select('rules', filter),
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Idle keep-alive sockets would otherwise hold close() open until they time out.
        server.closeAllConnections();
        agent.destroy();
      });
    },
  };
}

/** One change of a ChangeResourceRecordSets request, as sent. */
export interface RecordSetChange {
  action: string;
  /** Lower-case, without a trailing dot. */
  name: string;
  type: string;
  values: string[];
}

function xmlText(text: string): string {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function element(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return match ? xmlText(match[1] as string) : undefined;
}

/** The changes in a ChangeResourceRecordSets request body (the SDK's REST-XML serialisation). */
export function recordSetChanges(request: Pick<ProxiedRequest, 'body'>): RecordSetChange[] {
  return [...request.body.matchAll(/<Change>([\s\S]*?)<\/Change>/g)].map((match) => {
    const change = match[1] as string;
    const name = (element(change, 'Name') ?? '').toLowerCase().replace(/\.$/, '');
    return {
      action: element(change, 'Action') ?? '',
      name,
      type: element(change, 'Type') ?? '',
      values: [...change.matchAll(/<Value>([\s\S]*?)<\/Value>/g)].map((value) => xmlText(value[1] as string)),
    };
  });
}

/** The changes of a ChangeResourceRecordSets request with the TTL each names. */
function recordSetChangesWithTtl(body: string): Array<RecordSetChange & { ttl: string | undefined }> {
  const ttls = [...body.matchAll(/<Change>([\s\S]*?)<\/Change>/g)].map((match) =>
    element(match[1] as string, 'TTL'),
  );
  return recordSetChanges({ body }).map((change, index) => ({ ...change, ttl: ttls[index] }));
}

/**
 * The batch as moto can apply it. moto refuses a CREATE that follows, in the same batch, the
 * DELETE of the set it replaces when that set has several values ("already exists"), which
 * Route53 accepts. The batch has passed Route53's checks under the zone's lock by then, so the
 * pair is handed to moto as the one UPSERT it amounts to.
 */
function forMoto(body: string): string {
  const blocks = [...body.matchAll(/<Change>[\s\S]*?<\/Change>/g)].map((m) => m[0]);
  const keyOf = (block: string) =>
    `${(element(block, 'Name') ?? '').toLowerCase().replace(/\.$/, '')}|${element(block, 'Type')}`;
  let rewritten = body;
  for (const block of blocks) {
    if (element(block, 'Action') !== 'DELETE') continue;
    const create = blocks.find(
      (other) => element(other, 'Action') === 'CREATE' && keyOf(other) === keyOf(block),
    );
    if (!create) continue;
    rewritten = rewritten
      .replace(block, '')
      .replace(create, create.replace('<Action>CREATE</Action>', '<Action>UPSERT</Action>'));
  }
  return rewritten;
}
