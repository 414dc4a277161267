#!/usr/bin/env node
// The serve benchmark's baseline: the same framework and route as `hyperproto serve`, reading and parsing the same
// JSON body, answering a fixed JSON body without inference. Its throughput is the HTTP limit of the machine that
// the model server is measured against. Prints {"url": ...} once listening; stops on SIGTERM.
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 8 * 1024 * 1024 });
const answer = { predictions: [{ label: 0, score: 1 }] };
app.post('/v1/predict', async (request) => {
  if (!request.body || !Array.isArray(request.body.rows)) throw Object.assign(new Error('rows missing'), { statusCode: 400 });
  return answer;
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ url })}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
