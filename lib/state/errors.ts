/**
 * `complete` or `release` of a claim the caller does not hold: it was never claimed, another run
 * holds it now (it expired and was taken), or it is already done (release) or released
 * (complete). Retrying cannot help: the caller's view of the claim is wrong.
 */
export class ClaimNotHeldError extends Error {
  override readonly name = 'ClaimNotHeldError';
  readonly retryable = false;
  constructor(
    readonly key: string,
    readonly owner: string,
    readonly action: 'complete' | 'release',
    options?: { cause?: unknown },
  ) {
    super(
      `cannot ${action} claim ${JSON.stringify(key)}: ${JSON.stringify(owner)} does not hold it`,
      options,
    );
  }
}

/** DynamoDB kept answering a batch with unprocessed items (throttling): a later run can try again. */
export class StateThrottledError extends Error {
  override readonly name = 'StateThrottledError';
  readonly retryable = true;
  constructor(
    readonly operation: 'BatchWriteItem' | 'BatchGetItem',
    readonly unprocessed: number,
    readonly attempts: number,
  ) {
    super(`${operation}: ${unprocessed} item(s) still unprocessed after ${attempts} attempts`);
  }
}

/** An item of the state table that does not have the shape this version writes (edited by hand, or a foreign table). */
export class StateItemError extends Error {
  override readonly name = 'StateItemError';
  readonly retryable = false;
  constructor(
    readonly pk: string,
    readonly sk: string,
    options?: { cause?: unknown },
  ) {
    super(`state table item ${JSON.stringify(pk)} / ${JSON.stringify(sk)} is not readable`, options);
  }
}
