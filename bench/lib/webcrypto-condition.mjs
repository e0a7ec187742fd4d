// A module resolve hook (node:module register) so that one process can hold @hookline/core on both crypto
// backends: a module imported with `?hookline-webcrypto` in its URL resolves its `#` imports with the package's
// `hookline-webcrypto` condition, so its `#backend` is WebCrypto while the plain import's is node:crypto. Only the
// entry file imports `#backend`; the chunks it shares with the plain import hold no backend code.
const QUERY = "?hookline-webcrypto";

export async function resolve(specifier, context, next) {
  if (specifier.startsWith("#") && context.parentURL?.endsWith(QUERY)) {
    return next(specifier, { ...context, conditions: ["hookline-webcrypto", ...context.conditions] });
  }
  return next(specifier, context);
}
