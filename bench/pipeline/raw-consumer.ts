// The raw loop's consumer, in its own process as the matcher is: every partition of the log read
// with the matcher's own JetStreamLogSource (same client, same packing, same decoding), nothing else.
// Arguments: namespace, partitions, entries to wait for. Prints `ready`, then `done <entries>` when all are read.
import { JetStreamLogSource } from '../../pipeline/adapters/nats/jetstream-log-source.ts';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { Namespace } from '../../pipeline/namespace.ts';
import { connectNats } from '../../pipeline/adapters/nats/connect-nats.ts';

const [name = '', partitions = '8', expected = '0'] = process.argv.slice(2);
const ns = new Namespace(name);
const nc = await connectNats(loadConfig(process.env).natsUrl, 'bench raw consumer');
const source = new JetStreamLogSource(nc.jetstream(), ns);
let read = 0;
process.stdout.write('ready\n');
await Promise.all(
  Array.from({ length: Number(partitions) }, async (_, partition) => {
    let after = 0;
    while (read < Number(expected)) {
      const messages = await source.read(partition, after, 100);
      for (const message of messages) read += message.entries.length;
      after = messages.at(-1)?.seq ?? after;
    }
  }),
);
process.stdout.write(`done ${read}\n`);
await source.close();
await nc.drain();
