import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../pipeline/config/load-config.ts';
import { InputError } from '../../pipeline/errors.ts';

describe('loadConfig', () => {
  it('gives the DESIGN §6 defaults for an empty environment, frozen', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      streamReplicas: 1,
      redisUrl: 'redis://127.0.0.1:6379',
      clickhouseUrl: 'http://127.0.0.1:8123',
      apiHost: '127.0.0.1',
      apiPort: 3000,
      apiRatePerMinute: 60_000,
      apiAnonymousRatePerMinute: 60,
      clientOrigins: [],
      namespace: 'nudge',
      partitions: 8,
      stateCacheUsers: 100_000,
      dataDir: '.data',
      publicUrl: 'http://127.0.0.1:3000',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every NUDGE_ variable', () => {
    const config = loadConfig({
      NUDGE_NATS_URL: 'nats://10.0.0.1:4333',
      NUDGE_REDIS_URL: 'redis://cache:6380',
      NUDGE_CLICKHOUSE_URL: 'https://ch.internal:8443',
      NUDGE_API_HOST: '0.0.0.0',
      NUDGE_API_PORT: '8080',
      NUDGE_NAMESPACE: 't_1234',
      NUDGE_STATE_CACHE_USERS: '0',
      NUDGE_DATA_DIR: '/var/lib/nudge',
      NUDGE_CLIENT_ORIGINS: 'https://app.example.com, http://localhost:8080',
      NUDGE_SMS_AUTH_TOKEN: 'sms-secret',
      NUDGE_STREAM_REPLICAS: '3',
    });
    expect(config).toMatchObject({
      natsUrl: 'nats://10.0.0.1:4333',
      redisUrl: 'redis://cache:6380',
      streamReplicas: 3,
      stateCacheUsers: 0,
      apiPort: 8080,
      namespace: 't_1234',
      clickhouseUrl: 'https://ch.internal:8443',
      clientOrigins: ['https://app.example.com', 'http://localhost:8080'],
      smsAuthToken: 'sms-secret',
    });
  });

  it('takes several NATS and Redis URLs, the nodes of clusters, each checked', () => {
    const config = loadConfig({
      NUDGE_NATS_URL: 'nats://10.0.0.1:4222, nats://10.0.0.2:4222,nats://10.0.0.3:4222',
      NUDGE_REDIS_URL: 'redis://10.0.1.1:7001,redis://10.0.1.2:7001',
    });
    expect(config.natsUrl).toBe('nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222');
    expect(config.redisUrl).toBe('redis://10.0.1.1:7001,redis://10.0.1.2:7001');
    expect(() => loadConfig({ NUDGE_REDIS_URL: 'redis://a:1,http://b:2' })).toThrow(
      'NUDGE_REDIS_URL: http://b:2: the scheme must be redis: or rediss:',
    );
  });

  it.each([
    [{}, 'http://127.0.0.1:3000'],
    [{ NUDGE_API_HOST: '0.0.0.0', NUDGE_API_PORT: '8080' }, 'http://localhost:8080'],
    [{ NUDGE_API_HOST: '::1' }, 'http://[::1]:3000'],
    [{ NUDGE_PUBLIC_URL: 'https://nudge.example.com/' }, 'https://nudge.example.com'],
    [{ NUDGE_PUBLIC_URL: 'https://example.com/nudge' }, 'https://example.com/nudge'],
  ])('the public URL of %j, the base of unsubscribe links, is %s', (env, url) => {
    expect(loadConfig(env).publicUrl).toBe(url);
  });

  it.each([
    ['NUDGE_API_PORT', 'abc', 'NUDGE_API_PORT: a port number'],
    ['NUDGE_API_PORT', '70000', 'NUDGE_API_PORT'],
    ['NUDGE_NAMESPACE', 'Bad-Name', 'NUDGE_NAMESPACE: lowercase letters'],
    ['NUDGE_PARTITIONS', '2.5', 'NUDGE_PARTITIONS: a whole number of log partitions'],
    ['NUDGE_STATE_CACHE_USERS', '-1', 'NUDGE_STATE_CACHE_USERS'],
    ['NUDGE_REDIS_URL', 'http://127.0.0.1:6379', 'NUDGE_REDIS_URL: the scheme must be redis: or rediss:'],
    ['NUDGE_CLICKHOUSE_URL', 'not a url', 'NUDGE_CLICKHOUSE_URL'],
    ['NUDGE_NATS_URL', ' , ', 'NUDGE_NATS_URL: at least one URL'],
    ['NUDGE_STREAM_REPLICAS', '0', 'NUDGE_STREAM_REPLICAS: a whole number of replicas, 1 to 5'],
    ['NUDGE_STREAM_REPLICAS', 'three', 'NUDGE_STREAM_REPLICAS: a whole number of replicas, 1 to 5'],
    ['NUDGE_CLIENT_ORIGINS', 'https://app.example.com/page', 'NUDGE_CLIENT_ORIGINS[0]: origins such as'],
    ['NUDGE_PUBLIC_URL', 'nudge.example.com', 'NUDGE_PUBLIC_URL: the address people reach the API at'],
    ['NUDGE_PUBLIC_URL', 'ftp://nudge.example.com', 'NUDGE_PUBLIC_URL: the address people reach the API at'],
    ['NUDGE_PUBLIC_URL', 'https://nudge.example.com/?a=1', 'NUDGE_PUBLIC_URL'],
  ])('rejects %s=%s naming the variable', (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(InputError);
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });
});
