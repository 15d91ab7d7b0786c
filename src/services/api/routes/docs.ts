// GET /openapi.json (the OpenAPI 3 document, generated from the route schemas) and GET /docs (a
// browsable page).
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'

/** Registers the document generator; must come before the routes it describes. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sensorstream API',
        version: '1.0.0',
        description: 'Sensor readings `{sensor_id, value, timestamp}` (timestamp in unix seconds). Every error is JSON `{error: CODE, message, details?}`.'
      },
      tags: [
        { name: 'readings', description: 'history, writes and the live stream' },
        { name: 'sensors', description: 'per-sensor views' },
        { name: 'operations', description: 'health, readiness, metrics, this document' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'one of API_KEYS; needed for writes when API_KEYS is set, and for reads when API_READ_AUTH=true'
          }
        }
      }
    },
    // /docs is served by swagger-ui (hidden routes); describe it here so the document lists every route.
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject
      const doc = documentObject.openapiObject as { paths?: Record<string, unknown> }
      doc.paths = {
        ...doc.paths,
        '/docs': {
          get: {
            summary: 'This API, as a browsable page',
            tags: ['operations'],
            responses: { 200: { description: 'an HTML page (Swagger UI) reading /openapi.json' } }
          }
        }
      }
      return documentObject.openapiObject
    }
  })
}

export function docsRoutes() {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      '/openapi.json',
      {
        schema: {
          summary: 'This API as an OpenAPI 3 document',
          tags: ['operations'],
          response: { 200: { description: 'the OpenAPI document', type: 'object', additionalProperties: true } }
        }
      },
      async () => app.swagger()
    )
    await app.register(swaggerUi, { routePrefix: '/docs' })
  }
}
