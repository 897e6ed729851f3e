import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  classifyApiError,
  classifyHttpStatus,
  classifyNetworkError,
  DEFAULT_RETRY_POLICY,
  isCredentialFailure,
} from '../../lib/tencent/retry-policy.js';

describe('classifyApiError', () => {
  it.each([
    'RequestLimitExceeded',
    'RequestLimitExceeded.IPLimitExceeded',
    'RequestLimitExceeded.UinLimitExceeded',
    'RequestLimitExceeded.GlobalRegionUinLimitExceeded',
    'LimitExceeded.RateLimitExceeded',
    'InternalError',
    'InternalError.BackendResponseEmpty',
    'InternalError.BackendResponseError',
    'FailedOperation.NetworkError',
    'FailedOperation.CannotGetOrder',
    'FailedOperation.SystemError',
    'ServiceUnavailable',
  ])('retries %s', (code) => {
    expect(classifyApiError(code)).toBe('retry');
  });

  it.each([
    'FailedOperation.NoProjectPermission',
    'FailedOperation.NoRealNameAuth',
    'FailedOperation.CertificateNotFound',
    'FailedOperation.InvalidParam',
    'FailedOperation.CertificateInvalid',
    'InvalidParameter',
    'InvalidParameterValue.CertificateIdInvalid',
    'MissingParameter',
    'ResourceNotFound',
    'SomethingNobodyHasSeen',
  ])('fails fast on %s', (code) => {
    expect(classifyApiError(code)).toBe('fail');
  });

  it('re-signs on SignatureExpire', () => {
    expect(classifyApiError('AuthFailure.SignatureExpire')).toBe('resign');
  });

  it.each([
    'AuthFailure.TokenFailure',
    'AuthFailure.SignatureFailure',
    'AuthFailure.SecretIdNotFound',
    'AuthFailure.InvalidSecretId',
    'AuthFailure.UnauthorizedOperation',
    'UnauthorizedOperation',
    'FailedOperation.AuthError',
    'FailedOperation.CAMAuthorizedFail',
  ])('reloads the credentials on %s, a credential failure', (code) => {
    expect(classifyApiError(code)).toBe('refresh-credentials');
    expect(isCredentialFailure(code)).toBe(true);
  });

  it.each(['FailedOperation.NoProjectPermission', 'FailedOperation.SystemError', 'InternalError'])(
    'does not take %s for a credential failure',
    (code) => {
      expect(isCredentialFailure(code)).toBe(false);
    },
  );
});

describe('classifyHttpStatus and classifyNetworkError', () => {
  it('retries 5xx and 429 only', () => {
    expect([500, 502, 503, 504, 429].map(classifyHttpStatus)).toEqual(Array(5).fill('retry'));
    expect([400, 401, 403, 404].map(classifyHttpStatus)).toEqual(Array(4).fill('fail'));
  });

  it('retries connection-level failures and not programming errors', () => {
    expect(classifyNetworkError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('retry');
    expect(classifyNetworkError(Object.assign(new Error('t'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))).toBe(
      'retry',
    );
    expect(classifyNetworkError(new TypeError('bad header'))).toBe('fail');
  });
});

describe('backoffDelay', () => {
  it('doubles the ceiling per attempt and never passes the cap', () => {
    const top = () => 0.999999;
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) =>
      backoffDelay(DEFAULT_RETRY_POLICY, attempt, top),
    );
    expect(delays.slice(0, 4)).toEqual([249, 499, 999, 1999]);
    expect(Math.max(...delays)).toBeLessThan(DEFAULT_RETRY_POLICY.maxDelayMs);
  });

  it('draws the whole range, down to zero (full jitter)', () => {
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 3, () => 0)).toBe(0);
  });
});
