// The servers `bench:api` measures, each in its own process (autocannon runs in the bench's):
// `bare` is fastify's hello world taking a JSON body (the baseline); `nudge` is the API of the
// namespace NUDGE_NAMESPACE on the real services. Prints `listening <port>`.
import Fastify from 'fastify';
import { runApi } from '../../bin/api-command.ts';
import { stopSignal } from '../../bin/stop-signal.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';

const mode = process.argv[2];
if (mode === 'bare') {
  const app = Fastify();
  app.post('/v1/events', (_request, reply) => {
    void reply.code(202);
    return { status: 'accepted' };
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`listening ${new URL(address).port}\n`);
  const signal = stopSignal();
  signal.addEventListener('abort', () => void app.close());
} else {
  await runApi({ ...loadConfig(process.env), apiPort: 0 }, stopSignal(), (line) => {
    const port = /listening on http:\/\/[^:]+:(\d+)/.exec(line)?.[1];
    if (port !== undefined) process.stdout.write(`listening ${port}\n`);
  });
}
