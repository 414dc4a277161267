/**
 * A URL's credentials, in one of two forms:
 * - a password: from `scheme://user:` up to the last `@` of the text, as a URL parser reads it (the last `@` ends
 *   the userinfo), so that a password with an unencoded `@`, `/` or space, which no parser reads, is hidden whole too
 *   (the user name before it is kept);
 * - a user name alone (`scheme://NAME@host`): hidden whole, since it is often a secret (a token, or a password whose
 *   colon was forgotten); it runs to the last `@` before the host, where no `/`, `?`, `#` or space came first, so an
 *   `@` in a path (`https://host/@scope/name`) is no user name.
 */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)(?:([^\s:@/?#]*:)[\s\S]*@|[^\s/?#]+@)/gi;

/**
 * `text` with the credentials of each URL in it replaced by `***`: `scheme://user:***@host` for a password,
 * `scheme://***@host` for a user name alone. This is how hyperproto shows a URL with credentials (a job queue's)
 * everywhere, in its messages, in the command lines it stores (DIR/sessions.jsonl) and in the reports it renders from
 * them.
 */
export function hideUrlPassword(text: string): string {
  return text.replace(URL_CREDENTIALS, (_, scheme: string, user: string | undefined) => `${scheme}${user ?? ''}***@`);
}

/** A command line's arguments with the credentials of every URL among them hidden, for storing or showing the command. */
export function hideUrlPasswords(args: readonly string[]): string[] {
  return args.map(hideUrlPassword);
}
