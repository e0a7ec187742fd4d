// Deterministic, realistic JSON webhook bodies of an exact byte size.

/** A small seeded PRNG (mulberry32) so every run signs the same bodies. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  "seat plan pro team annual monthly usage overage credit storage compute bandwidth support priority region eu us " +
  "build minutes invoice proration discount coupon tax vat shipping bundle addon license";

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * A JSON event body (ASCII, so bytes = characters) of exactly `size` bytes: an `invoice.paid`-style event whose
 * line items grow with the size, padded exactly with a free-text `memo`.
 */
export function jsonBody(size, seed = 1) {
  const random = prng(seed);
  const words = WORDS.split(" ");
  const token = (prefix, n) => {
    let s = `${prefix}_`;
    for (let i = 0; i < n; i++) s += ALNUM[Math.floor(random() * ALNUM.length)];
    return s;
  };
  const phrase = (n) => Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(" ");
  const created = 1_760_000_000;

  const event = {
    id: token("evt", 24),
    type: "invoice.paid",
    api_version: "2025-01-01",
    created,
    livemode: false,
    data: {
      object: {
        id: token("in", 24),
        object: "invoice",
        customer: token("cus", 14),
        currency: "usd",
        status: "paid",
        amount_due: 0,
        amount_paid: 0,
        lines: [],
        metadata: { order_id: token("ord", 10), source: "checkout" },
        memo: "",
      },
    },
  };
  const invoice = event.data.object;
  const line = () => ({
    id: token("il", 24),
    description: phrase(4),
    amount: Math.floor(random() * 100_000),
    quantity: 1 + Math.floor(random() * 10),
    period: { start: created - 2_592_000, end: created },
    price: { id: token("price", 14), recurring: random() < 0.5 ? "month" : "year" },
  });

  const length = () => JSON.stringify(event).length;
  for (;;) {
    const item = line();
    const total = item.amount * item.quantity;
    invoice.lines.push(item);
    invoice.amount_due += total;
    invoice.amount_paid = invoice.amount_due;
    if (length() > size) {
      invoice.lines.pop();
      invoice.amount_due -= total;
      invoice.amount_paid = invoice.amount_due;
      break;
    }
  }
  let memo = "";
  while (memo.length < size) memo += `${phrase(6)}. `;
  invoice.memo = memo.slice(0, size - length());
  if (length() > size) throw new Error(`a ${size}-byte body is too small for the event skeleton (${length()} bytes)`);
  const body = JSON.stringify(event);
  if (Buffer.byteLength(body) !== size) throw new Error(`payload is ${Buffer.byteLength(body)} bytes, not ${size}`);
  return body;
}
