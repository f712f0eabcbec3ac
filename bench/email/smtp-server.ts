// The SMTP server `bench:email` mails to, in its own process: a real SMTP server (smtp-server)
// that reads every mail to its end and keeps nothing. Prints `listening <port>`.
import { SMTPServer } from 'smtp-server';

const server = new SMTPServer({
  disabledCommands: ['AUTH', 'STARTTLS'],
  logger: false,
  // A reverse DNS lookup of every client: slow or failing where there is no resolver, and useless on loopback.
  disableReverseLookup: true,
  onData(stream, _session, done) {
    stream.resume();
    stream.on('end', () => {
      done();
    });
  },
});
server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  if (address !== null && typeof address !== 'string') process.stdout.write(`listening ${address.port}\n`);
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
});
