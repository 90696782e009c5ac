import { appendFileSync, cpSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterEach, describe, expect, it } from 'vitest';
import { CaKeyUnavailableError, type CaSigningKey } from '../ca-key.js';
import type { CaKeyAlgorithm } from '../types.js';
import { makeSoftHsmToken, SOFTHSM_MODULE, softHsmAvailable, type SoftHsmToken } from '../../../test/support/softhsm.js';
import { openPkcs11Token, Pkcs11Error, type Pkcs11Token, type Pkcs11TokenState } from './index.js';
import { signatureVerifies } from '../ca-keys.js';

const available = softHsmAvailable();

function verifies(key: CaSigningKey, data: Uint8Array, signature: Uint8Array): boolean {
  return signatureVerifies(key.spec, key.spki, data, signature);
}

function nextState(token: Pkcs11Token, wanted: Pkcs11TokenState['state'], reason?: RegExp): Promise<Pkcs11TokenState> {
  return new Promise((resolve) => {
    const stop = token.onStateChange((state) => {
      if (state.state !== wanted || (reason !== undefined && !(state.state === 'lost' && reason.test(state.reason)))) return;
      stop();
      resolve(state);
    });
  });
}

describe.skipIf(!available)('PKCS#11 token (SoftHSM)', () => {
  let hsm: SoftHsmToken | undefined;
  let token: Pkcs11Token | undefined;
  const warnings: string[] = [];

  afterEach(async () => {
    await token?.close();
    token = undefined;
    hsm?.remove();
    hsm = undefined;
    warnings.length = 0;
  });

  async function open(extra: { token?: string; pin?: string; module?: string } = {}): Promise<Pkcs11Token> {
    hsm ??= makeSoftHsmToken();
    token = await openPkcs11Token({
      module: extra.module ?? SOFTHSM_MODULE,
      token: extra.token ?? hsm.label,
      pin: extra.pin ?? hsm.pin,
      warn: (line) => warnings.push(line),
      reconnectDelaysMs: [50, 100, 200],
    });
    return token;
  }

  it.each<CaKeyAlgorithm>(['ecdsa-p256', 'ecdsa-p384', 'rsa-2048'])('generates a %s key on the token that signs verifiably', async (algorithm) => {
    const t = await open();
    await t.requireMechanisms(algorithm);
    const key = await t.generateKey(`pkcs11:object=ca-${algorithm};id=%0a%0b`, algorithm);
    expect(key.spec.algorithm).toBe(algorithm);
    expect(key.description).toBe(`pkcs11:token=certmint;object=ca-${algorithm};id=%0a%0b`);
    const data = new TextEncoder().encode('to be signed');
    const signature = await key.sign(data);
    expect(signature.length).toBe(algorithm === 'ecdsa-p256' ? 64 : algorithm === 'ecdsa-p384' ? 96 : 256);
    expect(verifies(key, data, signature)).toBe(true);
    const again = await t.findKey(`pkcs11:object=ca-${algorithm}`);
    expect(Buffer.from(again?.spki ?? [])).toEqual(Buffer.from(key.spki));
    await expect(t.generateKey(`pkcs11:object=ca-${algorithm}`, algorithm)).rejects.toThrow(/already exists/);
  });

  it('marks a generated private key sensitive and never extractable; its value cannot be read', async () => {
    const t = await open();
    await t.generateKey('pkcs11:object=secret;id=%42', 'ecdsa-p256');
    const listing = hsm?.pkcs11Tool(['--token-label', 'certmint', '--list-objects', '--type', 'privkey']) ?? '';
    expect(listing).toMatch(/label:\s+secret/);
    expect(listing).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
    await t.close();
    token = undefined;
    // The attributes themselves, read through a session of our own once certmint's is closed.
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_MODULE);
    lib.C_Initialize();
    try {
      const [slot] = lib.C_GetSlotList(true);
      const session = lib.C_OpenSession(slot as Buffer, pkcs11js.CKF_SERIAL_SESSION);
      lib.C_Login(session, pkcs11js.CKU_USER, hsm?.pin);
      lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }]);
      const [key] = lib.C_FindObjects(session, 2);
      lib.C_FindObjectsFinal(session);
      const flags = lib.C_GetAttributeValue(session, key as Buffer, [
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_EXTRACTABLE },
        { type: pkcs11js.CKA_TOKEN },
        { type: pkcs11js.CKA_SIGN },
        { type: pkcs11js.CKA_DECRYPT },
        { type: pkcs11js.CKA_UNWRAP },
        { type: pkcs11js.CKA_DERIVE },
      ]);
      // Sensitive, never extractable, on the token, and sign-only (SoftHSM's defaults allow decrypt and unwrap).
      expect(flags.map((a) => a.value[0])).toEqual([1, 0, 1, 1, 0, 0, 0]);
      expect(() => lib.C_GetAttributeValue(session, key as Buffer, [{ type: pkcs11js.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    } finally {
      lib.C_Finalize();
    }
  });

  it('finds a key made with pkcs11-tool --keypairgen by label and by id', async () => {
    hsm = makeSoftHsmToken();
    hsm.pkcs11Tool(['--token-label', 'certmint', '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'vendor-key', '--id', '01']);
    const t = await open();
    const byLabel = await t.findKey('pkcs11:object=vendor-key');
    const byId = await t.findKey('pkcs11:id=%01');
    expect(byLabel?.spec.algorithm).toBe('ecdsa-p256');
    expect(Buffer.from(byId?.spki ?? [])).toEqual(Buffer.from(byLabel?.spki ?? []));
    const data = Buffer.from('vendor');
    expect(verifies(byLabel as CaSigningKey, data, await (byId as CaSigningKey).sign(data))).toBe(true);
    expect(await t.findKey('pkcs11:object=no-such-key')).toBeUndefined();
  });

  it('refuses a URI that matches two private keys and lists both', async () => {
    hsm = makeSoftHsmToken();
    hsm.pkcs11Tool(['--token-label', 'certmint', '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'twin', '--id', '01']);
    hsm.pkcs11Tool(['--token-label', 'certmint', '--keypairgen', '--key-type', 'rsa:2048', '--label', 'twin', '--id', '02']);
    const t = await open();
    const error = await t.findKey('pkcs11:object=twin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Pkcs11Error);
    const message = (error as Error).message;
    expect(message).toContain('matches 2 private keys');
    expect(message).toContain('label "twin", id 01, EC');
    expect(message).toContain('label "twin", id 02, RSA');
    expect(message).not.toContain('\n');
    expect(await t.findKey('pkcs11:object=twin;id=%02')).toBeDefined();
  });

  it('says in one line, without the PIN, why it cannot open: wrong PIN, unknown token, missing module, not a PKCS#11 library', async () => {
    hsm = makeSoftHsmToken();
    const wrongPin = `${hsm.pin}-wrong`;
    const failures = [
      [await open({ pin: wrongPin }).catch((e: unknown) => e), /^PKCS#11 login to token "certmint" failed: CKR_PIN_INCORRECT \(the PIN in ca\.pkcs11\.pinFile is wrong\)$/],
      [await open({ token: 'elsewhere' }).catch((e: unknown) => e), /^PKCS#11 token "elsewhere" \(ca\.pkcs11\.token\) not found in module .*: tokens present: "certmint" \(serial [0-9a-f]+, model SoftHSM v2\)$/],
      [await open({ token: 'serial:0000' }).catch((e: unknown) => e), /token "serial:0000" .* not found/],
      [await open({ module: path.join(hsm.dir, 'nope.so') }).catch((e: unknown) => e), /^PKCS#11 module .*nope\.so \(ca\.pkcs11\.module\) cannot be loaded: no such file/],
      [await open({ module: hsm.conf }).catch((e: unknown) => e), /^PKCS#11 module .*softhsm2\.conf \(ca\.pkcs11\.module\) cannot be loaded: not a PKCS#11 library this process can load \(.*\)$/],
    ] as const;
    token = undefined;
    for (const [error, expected] of failures) {
      expect(error).toBeInstanceOf(Pkcs11Error);
      const message = (error as Error).message;
      expect(message).toMatch(expected);
      expect(message).not.toContain(hsm.pin);
      expect(message).not.toContain(wrongPin);
    }
    // The right token by its serial opens.
    const serial = /serial ([0-9a-f]+)/.exec((failures[1][0] as Error).message)?.[1];
    expect((await open({ token: `serial:${serial}` })).state()).toEqual({ state: 'ready' });
  });

  it('refuses an algorithm whose mechanism the token lacks, naming it', async () => {
    // SoftHSM offers only the mechanisms its slots.mechanisms lists: everything but CKM_ECDSA here.
    hsm = makeSoftHsmToken();
    appendFileSync(hsm.conf, 'slots.mechanisms = CKM_EC_KEY_PAIR_GEN,CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_RSA_PKCS,CKM_SHA256_RSA_PKCS\n');
    const t = await open();
    await expect(t.requireMechanisms('ecdsa-p256')).rejects.toThrow(
      /^PKCS#11 token "certmint" cannot sign ecdsa-p256: its mechanism list lacks CKM_ECDSA \(CKR_MECHANISM_INVALID: /,
    );
    await expect(t.requireMechanisms('ecdsa-p384')).rejects.toBeInstanceOf(Pkcs11Error);
    await expect(t.requireMechanisms('rsa-2048')).resolves.toBeUndefined();
  });

  it('signs 200 times with 4 in flight through the session pool, every signature valid', async () => {
    const t = await open();
    const key = await t.generateKey('pkcs11:object=busy', 'ecdsa-p256');
    const messages = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i}`));
    let next = 0;
    const results: boolean[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < messages.length) {
          const message = messages[next++] as Buffer;
          results.push(verifies(key, message, await key.sign(message)));
        }
      }),
    );
    expect(results).toHaveLength(200);
    expect(results.every(Boolean)).toBe(true);
  });

  it('closes only after the signatures in flight finish; later ones are refused, nothing crashes', async () => {
    const t = await open();
    const key = await t.generateKey('pkcs11:object=closing', 'ecdsa-p256');
    const outcomes = Array.from({ length: 40 }, (_, i) => {
      const data = Buffer.from(`closing ${i}`);
      return key.sign(data).then((signature) => verifies(key, data, signature), (e: unknown) => e);
    });
    await t.close();
    token = undefined;
    const settled = await Promise.all(outcomes);
    expect(settled.filter((o) => o === true).length).toBeGreaterThanOrEqual(1);
    for (const o of settled) if (o !== true) expect(o).toBeInstanceOf(Pkcs11Error);
    await expect(key.sign(Buffer.from('after close'))).rejects.toThrow('PKCS#11 token "certmint" is closed');
  });

  it('shares one initialised module between tokens, even through a symlink, and finalizes it only with the last', async () => {
    const first = await open();
    const key = await first.generateKey('pkcs11:object=shared', 'ecdsa-p256');
    const current = hsm as SoftHsmToken;
    const link = path.join(current.dir, 'libvendor-pkcs11.so');
    symlinkSync(SOFTHSM_MODULE, link);
    const second = await openPkcs11Token({ module: link, token: 'certmint', pin: current.pin });
    try {
      const again = (await second.findKey('pkcs11:object=shared')) as CaSigningKey;
      await first.close();
      token = undefined;
      const data = Buffer.from('after the first closed');
      expect(verifies(key, data, await again.sign(data))).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('turns a deleted token into CaKeyUnavailableError, then reconnects to the restored token without reopening', async () => {
    const t = await open();
    const key = await t.generateKey('pkcs11:object=survivor;id=%07', 'ecdsa-p256');
    const current = hsm as SoftHsmToken;
    const copy = path.join(current.dir, 'tokens-copy');
    cpSync(current.tokenDir, copy, { recursive: true });
    const lost = nextState(t, 'lost');
    // Signing in flight while the token goes: some may finish first, none may crash the process.
    const inFlight = Array.from({ length: 20 }, (_, i) => key.sign(Buffer.from(`in flight ${i}`)).then(() => 'signed', (e: unknown) => e));
    current.tool('softhsm2-util', ['--delete-token', '--token', 'certmint']);
    const refusal = await key.sign(Buffer.from('after delete')).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(CaKeyUnavailableError);
    expect((refusal as CaKeyUnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    const state = await lost;
    expect(state.state).toBe('lost');
    for (const outcome of await Promise.all(inFlight)) {
      if (outcome !== 'signed') expect(outcome).toBeInstanceOf(CaKeyUnavailableError);
    }
    await expect(key.sign(Buffer.from('still lost'))).rejects.toBeInstanceOf(CaKeyUnavailableError);
    expect(t.state().state).toBe('lost');

    const ready = nextState(t, 'ready');
    rmSync(current.tokenDir, { recursive: true, force: true });
    cpSync(copy, current.tokenDir, { recursive: true });
    await ready;
    const data = Buffer.from('after restore');
    expect(verifies(key, data, await key.sign(data))).toBe(true);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^PKCS#11 token "certmint" lost: signing with .* failed: CKR_[A-Z_]+ \(.*\); reconnecting in \d+ s$/);
    expect(warnings[1]).toBe('PKCS#11 token "certmint" reconnected');
    for (const line of warnings) expect(line).not.toContain(current.pin);
  });

  it('finds a token deleted while nothing signs lost with probe(), and ready again once restored', async () => {
    const t = await open();
    const key = await t.generateKey('pkcs11:object=idle', 'ecdsa-p384');
    const current = hsm as SoftHsmToken;
    expect(await t.probe()).toEqual({ state: 'ready' });
    const copy = path.join(current.dir, 'tokens-copy');
    cpSync(current.tokenDir, copy, { recursive: true });
    current.tool('softhsm2-util', ['--delete-token', '--token', 'certmint']);
    const state = await t.probe();
    expect(state.state === 'lost' && state.reason).toMatch(/^reading the token info failed: CKR_GENERAL_ERROR/);
    expect(state.state === 'lost' && state.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await expect(key.sign(Buffer.from('while lost'))).rejects.toBeInstanceOf(CaKeyUnavailableError);
    const ready = nextState(t, 'ready');
    rmSync(current.tokenDir, { recursive: true, force: true });
    cpSync(copy, current.tokenDir, { recursive: true });
    await ready;
    const data = Buffer.from('idle again');
    expect(verifies(key, data, await key.sign(data))).toBe(true);
  });

  it('stays lost when the re-created token holds a different key under the same URI', async () => {
    const t = await open();
    const key = await t.generateKey('pkcs11:object=original', 'ecdsa-p256');
    const current = hsm as SoftHsmToken;
    const refused = nextState(t, 'lost', /not the key certmint started with/);
    current.tool('softhsm2-util', ['--delete-token', '--token', 'certmint']);
    current.tool('softhsm2-util', ['--init-token', '--free', '--label', 'certmint', '--pin', current.pin, '--so-pin', current.soPin]);
    current.pkcs11Tool(['--token-label', 'certmint', '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'original', '--id', '01']);
    await expect(key.sign(Buffer.from('x'))).rejects.toBeInstanceOf(CaKeyUnavailableError);
    await refused;
    await expect(key.sign(Buffer.from('y'))).rejects.toThrow(/not the key certmint started with/);
    expect(warnings).toHaveLength(1);
  });
});
