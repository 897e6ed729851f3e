/**
 * moto (https://github.com/getmoto/moto) as the local stand-in for AWS: one implementation for the
 * sandbox and the integration tests.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { request } from 'undici';

export interface MotoServer {
  endpoint: string;
  /** Drops every resource moto holds, so one server can serve several tests. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** How to get moto when it is missing; the sandbox prints it as is. */
export const MOTO_INSTALL_HINT = "python3 -m pip install 'moto[server]'";

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 3_000;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Environment that points the AWS SDK at a moto server with throw-away credentials. */
export function motoEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/**
 * moto uses boto inside: a user's AWS_PROFILE naming a profile it cannot load turns every answer
 * into an HTML error page. The server gets the environment without the user's AWS settings.
 */
function motoProcessEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(env).filter(([key]) => !key.startsWith('AWS_')));
  return {
    ...clean,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_DEFAULT_REGION: 'us-east-1',
  };
}

/** True when `python3` can import moto's server (checked before anything is started). */
export function isMotoInstalled(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('python3', ['-c', 'import moto.server'], { timeout: 20_000 }, (error) => resolve(!error));
  });
}

/**
 * `python3 -m moto.server`, plus a thread that ends the server once its stdin closes. A parent
 * that is killed outright cannot stop the server (tsx SIGKILLs a busy child on Ctrl-C, vitest
 * kills stuck workers); the kernel closes the pipe either way, so no server outlives its parent.
 *
 * moto serves requests on threads and checks a DynamoDB condition and writes the item in two
 * steps, so two racing conditional writes can both succeed there; DynamoDB applies each one
 * atomically. One lock around moto's item writes gives the stand-in DynamoDB's behaviour, so the
 * tests of claims (exactly one of racing runs) test the tool, not moto's threads.
 */
const MOTO_LAUNCHER = `
import os, runpy, sys, threading
def _watch_parent():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=_watch_parent, daemon=True).start()
try:
    from moto.dynamodb.models import DynamoDBBackend
    _item_writes = threading.RLock()
    def _atomic(method):
        def locked(self, *args, **kwargs):
            with _item_writes:
                return method(self, *args, **kwargs)
        return locked
    for _name in ('put_item', 'update_item', 'delete_item', 'batch_write_item', 'transact_write_items', 'get_item'):
        setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))
except ImportError:
    pass
sys.argv = ['moto.server'] + sys.argv[1:]
runpy.run_module('moto.server', run_name='__main__', alter_sys=True)
`;

/** Starts moto's server on a free loopback port and waits until it answers. */
export async function startMoto(options: { signal?: AbortSignal } = {}): Promise<MotoServer> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn('python3', ['-c', MOTO_LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['pipe', 'ignore', 'pipe'],
    env: motoProcessEnv(process.env),
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  // Killed by a signal, a child has `exitCode` null: the event is the one reliable sign it is gone.
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const exited = gone.then(() => {
    throw new Error(`moto exited with ${child.exitCode ?? child.signalCode}: ${stderr}`);
  });
  exited.catch(() => {});
  let running = true;
  void gone.then(() => {
    running = false;
  });
  const stop = async (): Promise<void> => {
    if (!running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await gone;
    clearTimeout(timer);
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      options.signal?.throwIfAborted();
      const response = await Promise.race([request(`${endpoint}/moto-api/`), exited]);
      await response.body.dump();
      break;
    } catch (error) {
      if (options.signal?.aborted || Date.now() > deadline || !running) {
        await stop();
        if (options.signal?.aborted) throw options.signal.reason;
        throw new Error(`moto did not start on ${endpoint}: ${(error as Error).message}\n${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    endpoint,
    async reset() {
      const response = await request(`${endpoint}/moto-api/reset`, { method: 'POST' });
      await response.body.dump();
    },
    stop,
  };
}
