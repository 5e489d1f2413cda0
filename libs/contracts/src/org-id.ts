/** An organization id: `ORG-` and a ULID (Crockford base 32, upper case). */
export const ORG_ID_PATTERN = /^ORG-[0-9A-HJKMNP-TV-Z]{26}$/;

/** The rule an invalid organization id breaks, in the words of every error that names it. */
export const ORG_ID_RULE = 'must look like ORG-<ulid>';

export const isOrgId = (value: unknown): value is string => typeof value === 'string' && ORG_ID_PATTERN.test(value);
