import type { DeliveryStore, Endpoint, EndpointPatch, EndpointSecret, Page } from "../engine/types";
import { HooklineError } from "../errors";
import { generateKeyPair } from "../keys";
import { inRanges, parseAddress, type Range } from "../net";
import { randomId } from "../random";
import { generateSecret } from "../webhook";

/** What `sender.endpoints.create` takes. */
export interface EndpointInput {
  /** Where deliveries are POSTed: `https:`, or `http:` to a host inside the sender's `allow`. */
  url: string;
  /**
   * The event types it receives.
   * @default every type
   */
  types?: string[];
  /**
   * The tenant whose messages it receives (`send(…, { tenant })`).
   * @default none: it receives the messages sent without a tenant
   */
  tenant?: string;
  /**
   * Extra headers sent with every delivery (they never replace the signature headers or `content-type`).
   * @default {}
   */
  headers?: Record<string, string>;
  /**
   * The application's own data, stored and returned as is.
   * @default {}
   */
  metadata?: Record<string, unknown>;
  /**
   * The signing secret: `whsec_…` (Standard Webhooks, Stripe), `whsk_…` for Standard Webhooks v1a (from
   * `generateKeyPair()`), or any text for GitHub and HMAC.
   * @default a new secret of the sender's `secretKind`
   */
  secret?: string;
  /**
   * Your own id for it.
   * @default a new `ep_…` id
   */
  id?: string;
}

/** What `sender.endpoints.update` can change. */
export type EndpointUpdate = Partial<Pick<Endpoint, "url" | "types" | "tenant" | "headers" | "metadata">>;

/** Options of `sender.endpoints.rotateSecret`. */
export interface RotateSecretOptions {
  /**
   * How long the old secrets keep signing beside the new one, so that receivers can switch without a gap.
   * @default 86_400_000 (24 hours)
   */
  graceMs?: number;
  /**
   * The new secret.
   * @default a new secret of the sender's `secretKind`
   */
  secret?: string;
}

/** A sender's endpoints. */
export interface SenderEndpoints {
  /**
   * Stores a new endpoint and returns it, with its secret.
   * @throws {HooklineError} `invalid_url` for a URL that is not https (or http inside `allow`); `invalid_option`
   * for a taken id.
   */
  create(input: EndpointInput): Promise<Endpoint>;
  get(id: string): Promise<Endpoint | undefined>;
  /** Oldest first; pass `cursor` back for the next page. */
  list(options?: { tenant?: string; limit?: number; cursor?: string }): Promise<Page<Endpoint>>;
  /** @throws {HooklineError} `not_found`, `invalid_url`. */
  update(id: string, patch: EndpointUpdate): Promise<Endpoint>;
  /**
   * Stops attempts to it; its deliveries wait, `pending`, until it is enabled.
   * @param reason @default "manual"
   * @throws {HooklineError} `not_found`.
   */
  disable(id: string, reason?: string): Promise<Endpoint>;
  /** Resumes its waiting deliveries (each when due) and starts a fresh failing count. @throws `not_found`. */
  enable(id: string): Promise<Endpoint>;
  /** Removes it; its pending deliveries end `failed`, their history is kept. `false` when there was none. */
  delete(id: string): Promise<boolean>;
  /**
   * Puts a new secret first; the old ones keep signing for `graceMs` (every unexpired secret signs each
   * delivery), then stop. Returns the endpoint: its new secret is `secrets[0].secret`.
   * @throws {HooklineError} `not_found`.
   */
  rotateSecret(id: string, options?: RotateSecretOptions): Promise<Endpoint>;
}

const DAY = 24 * 60 * 60 * 1000;

/** Checks an endpoint URL: http(s), and plain http only to an address that `allow` covers. */
export function checkEndpointUrl(url: unknown, allow: readonly Range[]): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    throw new HooklineError("invalid_url", `${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol === "https:") return parsed.href;
  if (parsed.protocol !== "http:") {
    throw new HooklineError("invalid_url", `Endpoint URLs must be https, got ${parsed.protocol}`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const address = parseAddress(host === "localhost" ? "127.0.0.1" : host);
  if (address && inRanges(address, allow)) return parsed.href;
  throw new HooklineError(
    "invalid_url",
    `Endpoint URLs must be https; plain http is only for hosts inside the sender's allow list, got ${parsed.href}`,
  );
}

function checkTypes(types: unknown): void {
  if (types !== undefined && !(Array.isArray(types) && types.every((type) => typeof type === "string"))) {
    throw new HooklineError("invalid_option", "types must be an array of event type strings");
  }
}

/** The secrets that sign now: every unexpired one, newest first (the newest always, so that one signs). */
export function signingSecrets(secrets: readonly EndpointSecret[], now: number): string[] {
  const live = secrets.filter((item) => item.expiresAt === undefined || item.expiresAt > now);
  return (live.length > 0 ? live : secrets.slice(0, 1)).map((item) => item.secret);
}

/**
 * What kind of secret a sender generates for its endpoints: `whsec` (Standard Webhooks v1, HMAC-SHA256; also what
 * Stripe-style and GitHub-style schemes take) or `whsk` (v1a, Ed25519: the endpoint also gets the `whpk_` public key
 * to hand to its receiver, which then cannot sign).
 */
export type SecretKind = "whsec" | "whsk";

async function newSecret(kind: SecretKind, given: string | undefined): Promise<EndpointSecret> {
  if (given !== undefined) return { secret: given };
  if (kind === "whsec") return { secret: generateSecret() };
  const pair = await generateKeyPair();
  return { secret: pair.secretKey, publicKey: pair.publicKey };
}

export function senderEndpoints(
  store: DeliveryStore,
  allow: readonly Range[],
  now: () => number,
  secretKind: SecretKind,
): SenderEndpoints {
  async function change(id: string, patch: EndpointPatch): Promise<Endpoint> {
    const endpoint = await store.endpoints.update(id, patch);
    if (!endpoint) throw new HooklineError("not_found", `No endpoint ${id}`);
    return endpoint;
  }

  return {
    async create(input) {
      const url = checkEndpointUrl(input.url, allow);
      checkTypes(input.types);
      const at = now();
      const endpoint: Endpoint = {
        id: input.id ?? randomId("ep_"),
        url,
        ...(input.types && { types: [...input.types] }),
        ...(input.tenant !== undefined && { tenant: input.tenant }),
        headers: { ...input.headers },
        metadata: { ...input.metadata },
        secrets: [await newSecret(secretKind, input.secret)],
        disabled: false,
        createdAt: at,
        updatedAt: at,
      };
      await store.endpoints.create(endpoint);
      return endpoint;
    },
    get: (id) => store.endpoints.get(id),
    list: (options) => store.endpoints.list(options),
    async update(id, patch) {
      const { url, types, tenant, headers, metadata } = patch;
      checkTypes(types);
      return change(id, {
        ...(url !== undefined && { url: checkEndpointUrl(url, allow) }),
        ...("types" in patch && { types }),
        ...("tenant" in patch && { tenant }),
        ...(headers !== undefined && { headers }),
        ...(metadata !== undefined && { metadata }),
      });
    },
    disable: (id, reason = "manual") => change(id, { disabled: true, disabledReason: reason }),
    enable: (id) => change(id, { disabled: false, disabledReason: undefined, failingSince: undefined }),
    delete: (id) => store.endpoints.delete(id),
    async rotateSecret(id, options = {}) {
      const { graceMs = DAY } = options;
      if (!(Number.isFinite(graceMs) && graceMs >= 0)) {
        throw new HooklineError("invalid_option", `graceMs must be milliseconds ≥ 0, got ${graceMs}`);
      }
      const secret = await newSecret(secretKind, options.secret);
      const at = now();
      const endpoint = await store.endpoints.rotateSecret(id, secret, { at, expiresAt: at + graceMs });
      if (!endpoint) throw new HooklineError("not_found", `No endpoint ${id}`);
      return endpoint;
    },
  };
}
