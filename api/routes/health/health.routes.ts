import type { FastifyPluginCallback } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiError } from '../../errors.ts';

/** Each service the API needs, and whether it answered. */
export type Readiness = () => Promise<Readonly<Record<string, boolean>>>;

/** `/healthz`: the process is up. `/readyz`: NATS, Redis and ClickHouse answer (503 naming those that do not). */
export const healthRoutes: FastifyPluginCallback<{ ready: Readiness }> = (app, { ready }, done) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        security: [],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    () => ({ status: 'ok' as const }),
  );
  routes.get(
    '/readyz',
    {
      schema: {
        security: [],
        tags: ['operations'],
        response: {
          200: z.object({ status: z.literal('ready'), services: z.record(z.string(), z.literal('ok')) }),
        },
      },
    },
    async () => {
      const checks = await ready();
      const down = Object.entries(checks)
        .filter(([, ok]) => !ok)
        .map(([name]) => name);
      if (down.length > 0)
        throw new ApiError('not_ready', `not reachable: ${down.join(', ')}`, { services: checks });
      return {
        status: 'ready' as const,
        services: Object.fromEntries(Object.keys(checks).map((name) => [name, 'ok' as const])),
      };
    },
  );
  done();
};
