import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** Loads a JSON fixture from tests/fixtures (path relative to that folder). */
export function loadFixture<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(`${FIXTURES}${path}`, 'utf8')) as T;
}
