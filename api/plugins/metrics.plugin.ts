import type { FastifyPluginCallback } from 'fastify';
import type { NudgeMetrics } from '../../pipeline/runtime/metrics.ts';

/** `GET /metrics`: Prometheus text of the process (the matcher's too when `nudge start` runs both). */
export const metricsPlugin: FastifyPluginCallback<{ metrics: NudgeMetrics }> = (app, { metrics }, done) => {
  app.get(
    '/metrics',
    {
      schema: { tags: ['operations'], security: [], summary: 'Prometheus metrics (no key, like the probes)' },
    },
    async (_request, reply) => {
      void reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
  done();
};
