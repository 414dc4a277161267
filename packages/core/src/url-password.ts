/**
 * A URL's userinfo password: from `scheme://user:` up to the last `@` of the text, as a URL parser reads it (the last
 * `@` ends the userinfo), so that a password with an unencoded `@`, `/` or space, which no parser reads, is hidden
 * whole too.
 */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]*:)[\s\S]*@/i;

/**
 * `text` with the password of the URL in it replaced by `***`: how hyperproto shows a URL with credentials (a job
 * queue's) everywhere, in its messages, in the command lines it stores (DIR/sessions.jsonl) and in the reports it
 * renders from them.
 */
export function hideUrlPassword(text: string): string {
  return text.replace(URL_PASSWORD, '$1***@');
}

/** A command line's arguments with the password of every URL among them hidden, for storing or showing the command. */
export function hideUrlPasswords(args: readonly string[]): string[] {
  return args.map(hideUrlPassword);
}
