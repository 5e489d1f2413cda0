// Baseline: a bare Fastify route that parses the same JSON body and answers a small JSON object,
// with no Nest, no validation, no Redis/PostgreSQL/Kafka. What the machine does with nothing in the way.
const fastify = require('fastify')({ logger: false, bodyLimit: 64 * 1024 });

fastify.post('/v1/verify', async (request) => ({
  allowed: true,
  action: request.body.action,
  orgId: request.body.orgId,
}));
fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) }).then((address) => {
  process.send?.({ address });
});
