import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyPlugin from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/** The OpenAPI document (`/openapi.json`) made from the routes' zod schemas, and a page to read and try it (`/docs`). */
export const openapiPlugin = fastifyPlugin(
  async (app) => {
    await app.register(fastifySwagger, {
      openapi: {
        info: {
          title: 'Nudge',
          version: '0.1.0',
          description:
            'Event-triggered messaging with protection against over-messaging. Errors: { "error": { "code", "message", "details" } }.',
        },
        components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
        security: [{ apiKey: [] }],
      },
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  },
  { name: 'nudge-openapi' },
);
