import { signedDelivery } from "@hookline/testing";
import { exampleSmokeSuite } from "../../example-suite";

exampleSmokeSuite({
  server: new URL("../server.mjs", import.meta.url),
  secret: "whsec_c21va2UtdGVzdC1zZWNyZXQtZm9yLWV4cHJlc3MtZXhhbXBsZQ==",
  // The development secret documented in server.mjs and the README.
  devSecret: "whsec_aG9va2xpbmUtZXhhbXBsZS1leHByZXNzLWRldi1zZWNyZXQ=",
  parser: "express.json()",
  signedDelivery,
});
