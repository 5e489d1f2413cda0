/** Request bodies larger than this are refused (413), by Fastify and by the hot routes alike. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** What can be wrong with a JSON request body, in the words of the error body, wherever it is read. */
export const bodyProblems = {
  tooLarge: `The request body is larger than the ${BODY_LIMIT_BYTES / 1024} KiB limit.`,
  empty: 'The request body is empty but declared as JSON.',
  // Not the parser's message: it quotes the request's bytes back (issue 11).
  notJson: 'The request body is not valid JSON.',
};
