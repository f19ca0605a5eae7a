// Cross-implementation driver: @sd-jwt/core@0.19.0 with @sd-jwt/crypto-nodejs@0.19.0, and
// @sd-jwt/sd-jwt-vc@0.19.0 with @sd-jwt/jwt-status-list@0.19.0 for the Token Status List.
// Reads one JSON request on stdin, writes one JSON answer on stdout. Driven by
// tests/crossimpl/test_trust_crossimpl.py and tests/crossimpl/test_token_status_crossimpl.py.
//   {"mode": "verify", "token", "issuerJwk", "nonce"?}  -> {"ok", "payload", "kb"} | {"ok": false, "error"}
//   {"mode": "verify-vc", "token", "issuerJwk"}         -> {"ok", "payload", "status"} | {"ok": false, "error", "status"}
//       (SDJwtVcInstance: signature, then status.status_list fetched over HTTP from its uri with its
//        own fetcher, the status-list JWT verified with the issuer's key, the entry read by
//        jwt-status-list; "status" is the entry's value as jwt-status-list read it)
//   {"mode": "issue", "aud", "nonce"}                     -> {"token", "presentation", "issuerJwk", "holderJwk", "kid"}
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { SDJwtInstance } from '@sd-jwt/core';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { StatusList, createHeaderAndPayload } from '@sd-jwt/jwt-status-list';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';

async function verifierFor(jwk) {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    return async (data, sig) => nodeVerify(null, Buffer.from(data), key, Buffer.from(sig, 'base64url'));
  }
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return ES256.getVerifier(jwk);
  throw new Error(`unsupported key ${jwk.kty}/${jwk.crv}`);
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const req = await readStdin();
if (req.mode === 'verify') {
  try {
    const verifier = await verifierFor(req.issuerJwk);
    const kbVerifier = async (data, sig, payload) => (await verifierFor(payload.cnf.jwk))(data, sig);
    const sdjwt = new SDJwtInstance({ verifier, kbVerifier, hasher: digest, hashAlg: 'sha-256' });
    const opts = req.nonce ? { keyBindingNonce: req.nonce } : {};
    const out = await sdjwt.verify(req.token, opts);
    process.stdout.write(JSON.stringify({ ok: true, payload: out.payload, kb: out.kb ? out.kb.payload : null }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e) }));
  }
} else if (req.mode === 'verify-vc') {
  let seen = null;
  try {
    const verifier = await verifierFor(req.issuerJwk);
    const sdjwt = new SDJwtVcInstance({
      verifier,
      hasher: digest,
      hashAlg: 'sha-256',
      statusValidator: async (status) => {
        seen = status;
        if (status !== 0) throw new Error('Status is not valid');
      },
    });
    const out = await sdjwt.verify(req.token);
    process.stdout.write(JSON.stringify({ ok: true, payload: out.payload, status: seen }));
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e), status: seen }));
  }
} else if (req.mode === 'issue-with-status') {
  const issuer = await ES256.generateKeyPair();
  const signer = await ES256.getSigner(issuer.privateKey);
  const kid = `${req.issuerDid}#key-1`;
  const now = Math.floor(Date.now() / 1000);
  const list = new StatusList(new Array(req.size).fill(0), req.bits);
  for (const [idx, value] of Object.entries(req.statuses)) list.setStatus(Number(idx), value);
  const { header, payload } = createHeaderAndPayload(
    list,
    { iss: req.issuerDid, sub: req.uri, iat: now, exp: now + 3600, ttl: 300 },
    { alg: 'ES256', typ: 'statuslist+jwt', kid },
  );
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64(header)}.${b64(payload)}`;
  const statusListJwt = `${input}.${await signer(input)}`;
  const sdjwt = new SDJwtVcInstance({ signer, signAlg: ES256.alg, hasher: digest, hashAlg: 'sha-256', saltGenerator: generateSalt });
  const tokens = {};
  for (const idx of Object.keys(req.statuses).concat(['0'])) {
    tokens[idx] = await sdjwt.issue(
      { iss: req.issuerDid, vct: req.vct, iat: now, exp: now + 3600, role: 'commission', organisation: 'EC',
        status: { status_list: { idx: Number(idx), uri: req.uri } } },
      { _sd: ['organisation'] },
      { header: { typ: 'dc+sd-jwt', kid } },
    );
  }
  process.stdout.write(JSON.stringify({ statusListJwt, tokens, issuerJwk: issuer.publicKey, kid }));
} else if (req.mode === 'issue') {
  const issuer = await ES256.generateKeyPair();
  const holder = await ES256.generateKeyPair();
  const sdjwt = new SDJwtInstance({
    signer: await ES256.getSigner(issuer.privateKey),
    signAlg: ES256.alg,
    kbSigner: await ES256.getSigner(holder.privateKey),
    kbSignAlg: ES256.alg,
    hasher: digest,
    hashAlg: 'sha-256',
    saltGenerator: generateSalt,
  });
  const now = Math.floor(Date.now() / 1000);
  const kid = `${req.issuerDid}#key-1`;
  const claims = {
    iss: req.issuerDid, vct: req.vct, iat: now, exp: now + 3600, sub: req.holderDid,
    cnf: { jwk: holder.publicKey },
    role: 'notified_body', organisation: 'NB 0123',
    supplyEvidence: [{ supplier: 'Secret Refinery Ltd', quantityKg: 1250 }, { supplier: 'Mine B', quantityKg: 80 }],
  };
  const token = await sdjwt.issue(claims, { _sd: ['organisation'], supplyEvidence: { _sd: [0, 1] } },
    { header: { typ: 'dc+sd-jwt', kid } });
  const presentation = await sdjwt.present(token, { organisation: true, supplyEvidence: { 1: true } },
    { kb: { payload: { iat: now, aud: req.aud, nonce: req.nonce } } });
  process.stdout.write(JSON.stringify({ token, presentation, issuerJwk: issuer.publicKey, holderJwk: holder.publicKey, kid }));
} else {
  process.stdout.write(JSON.stringify({ ok: false, error: `unknown mode ${req.mode}` }));
}
