import type { JetStreamManager, StreamConfig, StreamInfo } from 'nats';
import { NatsError } from 'nats';

/** JetStream's API error codes for "stream not found" and "stream name already in use". */
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;

/** The stream's info, or undefined when there is no such stream (told by the API error code, never the message text). */
export async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (error instanceof NatsError && error.api_error?.err_code === STREAM_NOT_FOUND) return undefined;
    throw error;
  }
}

/**
 * The stream's info, creating the stream when there is none. Processes starting together may
 * race to create it: the loser finds it made by the winner, with the same configuration.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<StreamInfo> {
  const existing = await streamInfo(jsm, config.name);
  if (existing !== undefined) return existing;
  try {
    return await jsm.streams.add(config);
  } catch (error) {
    if (!(error instanceof NatsError && error.api_error?.err_code === STREAM_NAME_IN_USE)) throw error;
    return jsm.streams.info(config.name);
  }
}
