import { describe, expect, it } from 'vitest';
import { formatPkcs11Uri, parsePkcs11Uri } from './uri.js';

describe('RFC 7512 key URIs', () => {
  it('reads object= as the label and id= as %-encoded bytes', () => {
    expect(parsePkcs11Uri('pkcs11:object=certmint-intermediate')).toEqual({ label: 'certmint-intermediate', id: undefined });
    expect(parsePkcs11Uri('pkcs11:id=%01%ff')).toEqual({ label: undefined, id: Buffer.from([1, 255]) });
    expect(parsePkcs11Uri('pkcs11:object=my%20key;id=%0A')).toEqual({ label: 'my key', id: Buffer.from([10]) });
    expect(parsePkcs11Uri('pkcs11:object=cl%C3%A9')).toEqual({ label: 'clé', id: undefined });
  });

  it('refuses other attributes, repeated ones, bad encodings and an empty selection, naming what is wrong', () => {
    expect(() => parsePkcs11Uri('object=x')).toThrow(/must start with "pkcs11:"/);
    expect(() => parsePkcs11Uri('pkcs11:token=certmint;object=x')).toThrow(/attribute "token" is not accepted/);
    expect(() => parsePkcs11Uri('pkcs11:type=private;object=x')).toThrow(/attribute "type" is not accepted/);
    expect(() => parsePkcs11Uri('pkcs11:object=a;object=b')).toThrow(/"object" is given twice/);
    expect(() => parsePkcs11Uri('pkcs11:id=%zz')).toThrow(/"%zz" is not a %-encoded byte/);
    expect(() => parsePkcs11Uri('pkcs11:')).toThrow(/needs object=<label> and\/or id=/);
  });

  it('refuses a pin-value query without echoing the PIN', () => {
    const attempt = (): unknown => parsePkcs11Uri('pkcs11:object=a?pin-value=hunter22&module-name=x');
    expect(attempt).toThrow(/query attributes \(pin-value, module-name\) are not accepted/);
    expect(attempt).not.toThrow(/hunter22/);
  });

  it('formats what it parses', () => {
    const uri = { label: 'a;b c', id: Buffer.from([0, 0xab]) };
    expect(formatPkcs11Uri(uri)).toBe('pkcs11:object=a%3Bb%20c;id=%00%ab');
    expect(parsePkcs11Uri(formatPkcs11Uri(uri))).toEqual(uri);
  });
});
