/** The error `fn` throws; a test that expected a refusal fails when there is none. */
export function refusal(fn: () => unknown): { code: string; message: string; hint?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string; hint?: string };
  }
  throw new Error('expected a refusal');
}

/** The error `promise` rejects with; a test that expected a refusal fails when it resolves. */
export async function asyncRefusal(promise: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; hint?: string };
  }
  throw new Error('expected a refusal');
}
