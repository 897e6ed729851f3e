import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const DOCUMENTED = 'tencent/documented/';

/** Loads a JSON fixture from tests/fixtures (path relative to that folder). */
export function loadFixture<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(`${FIXTURES}${path}`, 'utf8')) as T;
}

/** A Tencent answer as it comes over the wire: everything under `Response`. */
interface TencentEnvelope {
  Response: Record<string, unknown>;
}

export interface DocumentedExample {
  /** `<action>[.<variant>]`, e.g. `describe-certificates.search-domain` or `errors/system-error`. */
  name: string;
  /** The example's request body, when Tencent gives one as JSON. */
  request: Record<string, unknown> | undefined;
  response: TencentEnvelope;
}

/**
 * One of Tencent's documented examples (tests/fixtures/tencent/documented, sources in its
 * SOURCES.md), request and response. A fresh copy each call.
 */
export function loadDocumented(name: string): DocumentedExample {
  const request = `${DOCUMENTED}${name}.request.json`;
  return {
    name,
    request: existsSync(`${FIXTURES}${request}`) ? loadFixture(request) : undefined,
    response: loadFixture<TencentEnvelope>(`${DOCUMENTED}${name}.response.json`),
  };
}

/** The names of every documented example whose name starts with `prefix` (e.g. `describe-certificates`). */
export function documentedNames(prefix = ''): string[] {
  const names = (folder: string): string[] =>
    readdirSync(`${FIXTURES}${DOCUMENTED}${folder}`, { withFileTypes: true }).flatMap((entry) => {
      if (entry.isDirectory()) return names(`${folder}${entry.name}/`);
      const match = /^(.*)\.response\.json$/.exec(entry.name);
      return match ? [`${folder}${match[1]}`] : [];
    });
  return names('')
    .filter((name) => name.startsWith(prefix))
    .sort();
}
