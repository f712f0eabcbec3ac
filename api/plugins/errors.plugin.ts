import fastifyPlugin from 'fastify-plugin';
import { errorBody, errorHandler } from '../errors.ts';
import { RouteDirectory } from '../route-directory.ts';

/**
 * Every answer other than success in the one shape (`api/errors.ts`, codes in
 * `api/error-codes.ts`): what a handler or a hook threw, what a schema refused, what a port threw;
 * a path with no route is a 404 naming the nearest route, or a 405 with `Allow` when the path has
 * routes for other methods. Registered before the routes, so it sees each one added.
 */
export const errorsPlugin = fastifyPlugin(
  (app, _options, done) => {
    app.setErrorHandler(errorHandler);
    const directory = new RouteDirectory();
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) directory.add(method, route.url);
    });
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0] ?? '';
      const methods = directory.methodsFor(path);
      if (methods.length > 0) {
        void reply
          .code(405)
          .header('allow', methods.join(', '))
          .send(
            errorBody(
              'method_not_allowed',
              `${request.method} is not allowed on ${path}: use ${methods.join(' or ')}`,
            ),
          );
        return;
      }
      const nearest = directory.nearest(path);
      void reply
        .code(404)
        .send(
          errorBody(
            'not_found',
            `no route ${request.method} ${path}${nearest === undefined ? '' : `: did you mean ${nearest}?`} (every route: /docs)`,
          ),
        );
    });
    done();
  },
  { name: 'nudge-errors' },
);
