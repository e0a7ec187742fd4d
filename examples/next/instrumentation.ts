/** Runs once as the server starts, right after Next prints its URL: says where to send webhooks. */
export function register(): void {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  console.log("Hookline: POST webhooks to /api/webhooks (App Router) or /api/pages-webhooks (Pages Router)");
}
