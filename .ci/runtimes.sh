#!/usr/bin/env bash
# Runs the core's vectors, interop and receiver suites, the sender's deliver() suites and the Hono adapter's suite on every runtime the README
# promises besides the machine's Node 20 (which `pnpm test` covers): Node 22 and 24, Bun and Deno through their
# npm packages, and workerd through Miniflare with the worker bundled as Wrangler bundles it. Each prints the
# crypto backend it picked and its verify time, and loads the packages (ES modules only) from CommonJS with
# require(). Needs `pnpm build` first. The runtimes are installed once into HOOKLINE_RUNTIMES_DIR (pinned by
# .ci/runtimes/package-lock.json) and reused by later runs.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=${HOOKLINE_RUNTIMES_DIR:-/tmp/hookline-runtimes}
mkdir -p "$dir"
if ! cmp -s .ci/runtimes/package-lock.json "$dir/package-lock.json"; then
  cp .ci/runtimes/package.json .ci/runtimes/package-lock.json "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
bin="$dir/node_modules"

suites=(
  --project "core (webcrypto)" --project "core (node)" --project hono
  packages/core/test/vectors.test.ts packages/core/test/interop.test.ts packages/core/test/sign-verify.test.ts
  packages/core/test/schemes.test.ts packages/core/test/v1a.test.ts packages/core/test/receiver.test.ts
  packages/core/test/runtime.test.ts packages/core/test/sender/deliver.test.ts packages/core/test/sender/interop.test.ts
  packages/core/test/sender/ssrf.test.ts packages/hono/test
)
vitest=node_modules/vitest/vitest.mjs

run() { # name, command…
  local name=$1
  shift
  echo "── $name"
  "$@" run "${suites[@]}" --typecheck.enabled=false
  "${@:1:$#-1}" packages/hono/test/runtimes/report.mjs
  "${@:1:$#-1}" packages/hono/test/runtimes/require.cjs
}

echo "── node $(node --version) (the machine's; the full suite runs under pnpm test)"
node packages/hono/test/runtimes/report.mjs
node packages/hono/test/runtimes/require.cjs
run "node 22" "$bin/node22/bin/node" "$vitest"
run "node 24" "$bin/node24/bin/node" "$vitest"
run "bun" "$bin/.bin/bun" --bun "$vitest"
run "deno" "$bin/.bin/deno" run -A "$vitest"
echo "── workerd"
HOOKLINE_RUNTIMES_DIR="$dir" "$bin/node22/bin/node" packages/hono/test/runtimes/workerd.mjs
