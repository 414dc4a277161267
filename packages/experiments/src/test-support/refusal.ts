/** The error `fn` throws; a test that expected a refusal fails when there is none. */
export function refusal(fn: () => unknown): { code: string; message: string; hint?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string; hint?: string };
  }
  throw new Error('expected a refusal');
}
