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
  // Built on the first miss: `null` when every name is lower-case already (Node's), so a miss costs no copy.
  let lowered: Map<string, string | readonly string[] | undefined> | null | undefined;
  return (name) => {
    // Node and most callers already give lower-case names; only fall back to a scan when they don't.
    let value = record[name];
    if (value === undefined) {
      if (lowered === undefined) lowered = lowerCased(record);
      value = lowered?.get(name);
    }
    if (value === undefined) return undefined;
    return typeof value === "string" ? value : value.join(", ");
  };
}

/** The record keyed by lower-case names, or `null` if it is already. */
function lowerCased(
  record: Readonly<Record<string, string | readonly string[] | undefined>>,
): Map<string, string | readonly string[] | undefined> | null {
  for (const key of Object.keys(record)) {
    if (key !== key.toLowerCase()) return new Map(Object.entries(record).map(([name, v]) => [name.toLowerCase(), v]));
  }
  return null;
}
