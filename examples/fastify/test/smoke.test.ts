import { signedDelivery } from "@hookline/testing";
import { exampleSmokeSuite } from "../../example-suite";

exampleSmokeSuite({
  server: new URL("../server.mjs", import.meta.url),
  secret: "whsec_c21va2UtdGVzdC1zZWNyZXQtZm9yLWZhc3RpZnktZXhhbXBsZQ==",
  // The development secret documented in server.mjs and the README.
  devSecret: "whsec_aG9va2xpbmUtZXhhbXBsZS1mYXN0aWZ5LWRldi1zZWNyZXQ=",
  parser: "Fastify's parser",
  signedDelivery,
});
