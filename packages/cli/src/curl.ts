/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * A curl command that sends exactly these headers and bytes: the body from a file when there is one (`@path`
 * keeps every byte), else inline (a shell string keeps newlines; `--data-binary` sends them as they are).
 */
export function curlCommand(
  url: string,
  headers: Iterable<[string, string]>,
  body: { file: string } | { text: string },
): string {
  const parts = ["curl", "-sS", "-X", "POST", shellQuote(url)];
  for (const [name, value] of headers) parts.push("-H", shellQuote(`${name}: ${value}`));
  parts.push("--data-binary", "file" in body ? shellQuote(`@${body.file}`) : shellQuote(body.text));
  return parts.join(" ");
}
