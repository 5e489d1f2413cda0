import { createHmac, createSecretKey, KeyObject } from 'node:crypto';

/**
 * `hashKeySecret` (libs/contracts) with the pepper imported once as a KeyObject: the same HMAC,
 * without re-importing the key on every verify (createHmac with a raw key costs several times
 * the HMAC itself).
 */
export class SecretHasher {
  private readonly key: KeyObject;

  constructor(pepper: string) {
    this.key = createSecretKey(Buffer.from(pepper, 'utf8'));
  }

  hash(secret: string): Buffer {
    return createHmac('sha256', this.key).update(secret).digest();
  }
}
