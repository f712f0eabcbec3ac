import type { JetStreamManager, StreamConfig, StreamInfo } from 'nats';
import { NatsError } from 'nats';
import type { Namespace } from '../../namespace.ts';

/** JetStream's API error codes for "stream not found", "stream name already in use" and "subjects overlap with an existing stream". */
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;
const SUBJECTS_OVERLAP = 10065;

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
 * The stream's info, creating the stream when there is none, with the namespace's replicas
 * (every stream of a namespace is made here). Processes starting together may
 * race to create it: the loser finds it made by the winner, with the same configuration. (The
 * loser is told "name in use", or, by nats-server 2.9 once, "subjects overlap": the winner's
 * stream holds them. Either way the stream is read again, and only an overlap with a stream of
 * another name is an error.)
 */
export async function ensureStream(
  jsm: JetStreamManager,
  ns: Namespace,
  stream: Partial<StreamConfig> & { name: string },
): Promise<StreamInfo> {
  const config = { ...stream, num_replicas: ns.streamReplicas };
  const existing = await streamInfo(jsm, config.name);
  if (existing !== undefined) return existing;
  try {
    return await jsm.streams.add(config);
  } catch (error) {
    const code = error instanceof NatsError ? error.api_error?.err_code : undefined;
    if (code === STREAM_NAME_IN_USE) return jsm.streams.info(config.name);
    const made = code === SUBJECTS_OVERLAP ? await streamInfo(jsm, config.name) : undefined;
    if (made === undefined) throw error;
    return made;
  }
}
