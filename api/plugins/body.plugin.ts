import fastifyCompress from '@fastify/compress';
import fastifyPlugin from 'fastify-plugin';
import { ApiError } from '../errors.ts';
import { parseJsonBody } from '../json-body.ts';
import { MAX_BODY_DEPTH, nestsDeeperThan } from './nesting-depth.ts';

/**
 * How request bodies are read, before any schema: JSON only (a text/plain body is a 415, not a
 * string that fails every schema), by our own parser, which says where a body breaks (fastify's
 * names only its internal code); compressed bodies (gzip, deflate) inflated as they are read, so
 * the body limit holds for the inflated body and a small bomb is a 413 (answers are not
 * compressed: the ingest path would pay for it on every request); and nothing nested deeper than
 * the schemas' recursive parse can take.
 */
export const bodyPlugin = fastifyPlugin(
  async (app) => {
    app.removeContentTypeParser(['text/plain', 'application/json']);
    app.decorateRequest('jsonText', '');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      try {
        request.jsonText = body as string;
        done(null, parseJsonBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
    await app.register(fastifyCompress, {
      globalCompression: false,
      globalDecompression: true,
      requestEncodings: ['gzip', 'deflate'],
      onUnsupportedRequestEncoding: (encoding) =>
        new ApiError(
          'unsupported_media_type',
          `content-encoding ${JSON.stringify(encoding)} is not read here: send the body as it is, or with gzip or deflate`,
        ),
      // Copied onto zlib's own error by the plugin: plain fields, so the message is copied too.
      onInvalidRequestPayload: (encoding) => ({
        name: 'InvalidRequestPayload',
        statusCode: 400,
        code: 'invalid_request',
        message: `the body is not valid ${encoding}: it could not be inflated`,
      }),
    });
    // A body nested thousands deep would overflow the stack of the recursive parse of conditions
    // (or of the message quoting a refused value): a 500 for what a client sent.
    app.addHook('preValidation', (request, _reply, done) => {
      if (request.body !== undefined && nestsDeeperThan(request.body, MAX_BODY_DEPTH)) {
        done(
          new ApiError(
            'invalid_request',
            `the body nests deeper than ${MAX_BODY_DEPTH} levels of objects and arrays`,
          ),
        );
        return;
      }
      done();
    });
  },
  { name: 'nudge-body' },
);
