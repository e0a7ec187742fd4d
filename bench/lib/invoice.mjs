import { z } from "zod";

// The catalog entry for the `jsonBody` event of lib/payload.mjs: the whole invoice, as an app would declare it.
export const invoiceSchema = z.object({
  object: z.object({
    id: z.string().startsWith("in_"),
    object: z.literal("invoice"),
    customer: z.string(),
    currency: z.string().length(3),
    status: z.enum(["draft", "open", "paid", "void"]),
    amount_due: z.number().int().nonnegative(),
    amount_paid: z.number().int().nonnegative(),
    lines: z.array(
      z.object({
        id: z.string(),
        description: z.string(),
        amount: z.number().int(),
        quantity: z.number().int().positive(),
        period: z.object({ start: z.number().int(), end: z.number().int() }),
        price: z.object({ id: z.string(), recurring: z.enum(["month", "year"]) }),
      }),
    ),
    metadata: z.record(z.string(), z.string()),
    memo: z.string(),
  }),
});
