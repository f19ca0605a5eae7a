// batpass test harness (not part of the vendored tool): preloaded with `node -r` before the
// PACT conformance service's src/server.ts so that its unchanged `app.listen(port)` serves HTTPS
// with the certificate in PACT_TLS_CERT / PACT_TLS_KEY (issued by the test's federation CA) and
// binds to loopback only. The node under test posts its callback events (TC13, TC14.B) here.
"use strict";
const fs = require("fs");
const https = require("https");
// express is the tool's own (its node_modules), resolved from the working directory
const express = require(require.resolve("express", { paths: [process.cwd()] }));

const options = { cert: fs.readFileSync(process.env.PACT_TLS_CERT), key: fs.readFileSync(process.env.PACT_TLS_KEY) };
express.application.listen = function listen(port, callback) {
  const server = https.createServer(options, this);
  return server.listen(Number(port), "127.0.0.1", callback);
};
