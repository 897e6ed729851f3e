'use strict';
/**
 * Stack values derived from the stage parameters when the service is packaged, as serverless
 * variables: `${file(infra/cloudformation/stack-parameters.cjs):allowedDomains}`.
 *
 * Why at package time and not in CloudFormation: CloudFormation has no function to lower-case,
 * trim or de-duplicate a list, and Fn::Join and Fn::Sub take only literal delimiters and
 * templates, so neither a normalised allow-list nor one `arn:${AWS::Partition}:…` ARN per hosted
 * zone can be computed there. Both are read here with the parsers the functions' own
 * loadConfig uses (lib/domain-list.ts), so the IAM condition and the functions' ALLOWED_DOMAINS are
 * the same list, and a stack whose functions would refuse their configuration at cold start (a
 * public suffix, a malformed zone) is never packaged. A change made to the AllowedDomains
 * parameter directly in CloudFormation is still held to the normalised form by its
 * AllowedPattern.
 *
 * resources.yml turns the list into the Route53 write condition (ForAllValues:StringLike on
 * route53:ChangeResourceRecordSetsNormalizedRecordNames), per domain d: `_dnsauth.d`,
 * `_dnsauth.*.d`, `_<32 × ?>.d` and `_<32 × ?>.*.d`; `*` alone makes them `_dnsauth.*` and
 * `_<32 × ?>.*` (and their redundant `.*.*` forms). A domain here never holds a `*` or `?` of
 * its own, which IAM would read as wildcards: the parser and the AllowedPattern refuse both.
 */

const { require: requireTypeScript } = require('tsx/cjs/api');

let parsers;
/** lib/domain-list.ts, loaded once and only when a value is asked for. */
function configParsers() {
  parsers ??= requireTypeScript('../../lib/domain-list.ts', __filename);
  return parsers;
}

class StackParameterError extends Error {
  constructor(problems) {
    super(`parameters not usable:\n${problems.map((p) => `    - ${p}`).join('\n')}`);
    this.name = 'StackParameterError';
    // The framework prints error.stack; for a wrong parameter the lines of this file are noise.
    this.stack = this.message;
  }
}

async function param(resolveVariable, name) {
  const value = await resolveVariable(`param:${name}`);
  return value === null || value === undefined ? '' : String(value);
}

const ZONE_ID = /^[A-Z0-9]{1,32}$/;

/** Hosted zone ids of `route53ZoneIds` and of the `route53Zones` pairs, each once, in order. */
async function zoneIds(resolveVariable) {
  const problems = [];
  const ids = [];
  for (const raw of (await param(resolveVariable, 'route53ZoneIds')).split(',')) {
    const id = raw.trim().replace(/^\/?hostedzone\//, '');
    if (id === '') continue;
    if (id === '*') {
      problems.push(
        'route53ZoneIds: * would let the functions write into every hosted zone of the account, private zones included; list the ids of the zones to validate in',
      );
    } else if (!ZONE_ID.test(id)) {
      problems.push(`route53ZoneIds: ${JSON.stringify(raw.trim())} is not a hosted zone id`);
    } else {
      ids.push(id);
    }
  }
  const zones = configParsers().parseRoute53Zones(
    await param(resolveVariable, 'route53Zones'),
    'route53Zones',
  );
  problems.push(...zones.problems);
  ids.push(...zones.value.map((zone) => zone.hostedZoneId));
  if (problems.length === 0 && ids.length === 0) {
    problems.push(
      'route53ZoneIds is required: the ids of the hosted zones the functions may write validation records into, comma separated (or name them with route53Zones); only the zones listed are writable',
    );
  }
  if (problems.length > 0) throw new StackParameterError(problems);
  return [...new Set(ids)];
}

module.exports = {
  /** ALLOWED_DOMAINS as the functions read it: lower case, no trailing dot, no `*.`, no duplicates. */
  async allowedDomains({ resolveVariable }) {
    const parsed = configParsers().parseAllowedDomains(
      await param(resolveVariable, 'allowedDomains'),
      'allowedDomains',
    );
    if (parsed.problems.length > 0) throw new StackParameterError(parsed.problems);
    if (parsed.value === undefined) return '';
    return parsed.value === '*' ? '*' : parsed.value.join(',');
  },

  /** One hosted zone ARN per zone id, in the stack's partition (aws, aws-cn, aws-us-gov). */
  async route53ZoneArns({ resolveVariable }) {
    return (await zoneIds(resolveVariable)).map((id) => ({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':route53:::hostedzone/', id]],
    }));
  },
};
