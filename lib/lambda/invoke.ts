import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';

/** Starts a function without waiting for it (InvocationType Event); Lambda queues and retries it. */
export async function invokeAsync(
  client: LambdaClient,
  functionName: string,
  payload: unknown,
): Promise<void> {
  const output = await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'Event',
      Payload: new TextEncoder().encode(JSON.stringify(payload)),
    }),
  );
  if (output.StatusCode !== 202)
    throw new Error(`Lambda did not accept the invocation (status ${output.StatusCode})`);
}
