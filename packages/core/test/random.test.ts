import { describe, expect, it } from "vitest";
import { claimToken, generateMessageId } from "../src";

describe("ids and claim tokens from the pooled random source", () => {
  it("are well formed and never repeat across many pool refills", () => {
    const tokens = new Set(Array.from({ length: 5000 }, claimToken));
    const ids = new Set(Array.from({ length: 5000 }, generateMessageId));
    expect(tokens.size).toBe(5000);
    expect(ids.size).toBe(5000);
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{32}$/);
    for (const id of ids) expect(id).toMatch(/^msg_[0-9A-Za-z]{24}$/);
  });

  it("spread over the whole alphabet", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++)
      for (const char of generateMessageId().slice(4)) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // 48,000 characters over 62 symbols: each about 774; a biased generator would skew some far off.
    for (const count of counts.values()) expect(count).toBeGreaterThan(600);
  });
});
