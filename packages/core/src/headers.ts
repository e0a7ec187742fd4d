/** Headers as a Fetch `Headers` or a plain record (Node's `IncomingHttpHeaders`), names in any case. */
export type HeadersInput = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Reads one header by lower-case name; repeated values are joined with ", " as Fetch does. */
export type HeaderReader = (name: string) => string | undefined;

export function headerReader(headers: HeadersInput): HeaderReader {
  if (typeof (headers as Headers).get === "function" && typeof (headers as Headers).has === "function") {
    const fetchHeaders = headers as Headers;
    return (name) => fetchHeaders.get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  let lowered: Map<string, string | readonly string[] | undefined> | undefined;
  return (name) => {
    // Node and most callers already give lower-case names; only fall back to a scan when they don't.
    let value = record[name];
    if (value === undefined) {
      lowered ??= new Map(Object.entries(record).map(([key, v]) => [key.toLowerCase(), v]));
      value = lowered.get(name);
    }
    if (value === undefined) return undefined;
    return typeof value === "string" ? value : value.join(", ");
  };
}
