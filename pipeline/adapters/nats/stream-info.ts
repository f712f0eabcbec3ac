import type { JetStreamManager, StreamInfo } from 'nats';
import { NatsError } from 'nats';

/** JetStream's API error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

/** The stream's info, or undefined when there is no such stream (told by the API error code, never the message text). */
export async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (error instanceof NatsError && error.api_error?.err_code === STREAM_NOT_FOUND) return undefined;
    throw error;
  }
}
