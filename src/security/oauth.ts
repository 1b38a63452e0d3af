import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { SecurityRuntime } from './http.js';
import { setAuditState } from './http.js';

/**
 * The Iceberg REST OAuth2 token endpoint (client-credentials grant): client id and secret are an
 * API key's id and secret (`credential=<id>:<secret>` in Spark and PyIceberg), sent in the form
 * body or as HTTP Basic. Answers a short-lived access token signed by this service.
 */
const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer(),
  issued_token_type: Type.String(),
});
const OAuthError = Type.Object(
  { error: Type.String({ description: 'invalid_request, invalid_client, unsupported_grant_type' }), error_description: Type.Optional(Type.String()) },
  { description: 'OAuth2 error (RFC 6749 §5.2)' },
);

function oauthError(reply: FastifyReply, status: number, error: string, description: string): FastifyReply {
  if (status === 401) reply.header('www-authenticate', 'Basic realm="lakehouse"');
  return reply.code(status).type('application/json').send(JSON.stringify({ error, error_description: description }));
}

export function registerOAuthRoute(app: FastifyInstance, runtime: SecurityRuntime): void {
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    });
    scope.post(
      '/v1/oauth/tokens',
      {
        schema: {
          operationId: 'getToken',
          tags: ['OAuth2 API'],
          summary: 'Exchange client credentials (API key id and secret) for an access token',
          consumes: ['application/x-www-form-urlencoded'],
          body: Type.Object(
            {
              grant_type: Type.String(),
              client_id: Type.Optional(Type.String()),
              client_secret: Type.Optional(Type.String()),
              scope: Type.Optional(Type.String()),
            },
            { additionalProperties: true },
          ),
          response: { 200: TokenResponse, 400: OAuthError, 401: OAuthError },
        },
        attachValidation: true,
      },
      async (req, reply) => {
        const state = { principal: null as string | null, action: 'auth.token', resource: null, outcome: undefined as 'auth-failed' | undefined, detail: null as string | null };
        setAuditState(req, state);
        const fail = (status: number, error: string, description: string) => {
          state.outcome = 'auth-failed';
          state.detail = description;
          return oauthError(reply, status, error, description);
        };
        if (req.validationError) return fail(400, 'invalid_request', req.validationError.message);
        const body = req.body as Record<string, string>;
        if (body.grant_type !== 'client_credentials') return fail(400, 'unsupported_grant_type', `grant_type ${body.grant_type} is not supported (client_credentials is)`);
        let id = body.client_id;
        let secret = body.client_secret;
        const basic = /^Basic +(\S+)$/i.exec(req.headers.authorization ?? '');
        if (basic) {
          const text = Buffer.from(basic[1], 'base64').toString('utf8');
          const i = text.indexOf(':');
          if (i > 0) {
            id = decodeURIComponent(text.slice(0, i));
            secret = decodeURIComponent(text.slice(i + 1));
          }
        }
        if (!id || !secret) return fail(401, 'invalid_client', 'client_id and client_secret are required');
        if (!runtime.authn) return fail(401, 'invalid_client', 'this service has no credential store');
        const result = await runtime.authn.verifyClient(id, secret);
        if (!result.ok) return fail(401, 'invalid_client', result.reason);
        state.principal = result.auth.principal;
        const { token, expiresIn } = await runtime.authn.issueToken(result.auth.principal, id);
        return reply
          .code(200)
          .header('cache-control', 'no-store')
          .type('application/json')
          .send(
            JSON.stringify({ access_token: token, token_type: 'bearer', expires_in: expiresIn, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' }),
          );
      },
    );
  });
}
