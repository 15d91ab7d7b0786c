// The one place where errors become HTTP answers: AppError codes (and fastify's own errors) map to a
// status, and every error body is {error: CODE, message, details?}.
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import FindMyWay, { type HTTPMethod } from 'find-my-way'
import { AppError, type ErrorCode } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'

/** Codes of errors that only exist at the HTTP edge. */
export type HttpErrorCode =
  | ErrorCode
  | 'INVALID_JSON'
  | 'BAD_REQUEST'
  | 'METHOD_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'PAYLOAD_TOO_LARGE'
  | 'URI_TOO_LONG'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'HEADERS_TOO_LARGE'

export const STATUS: Readonly<Record<HttpErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  HEADERS_TOO_LARGE: 431,
  CONFIG_INVALID: 500,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  TIMEOUT: 503
}

export interface ErrorBody {
  readonly error: HttpErrorCode
  readonly message: string
  readonly details?: unknown
}

export interface HttpError {
  readonly status: number
  readonly body: ErrorBody
  readonly headers: Readonly<Record<string, string>>
}

/** An error the API raises itself with an HTTP-only code (e.g. 405). */
export class HttpEdgeError extends Error {
  readonly code: HttpErrorCode
  readonly details: unknown
  readonly headers: Readonly<Record<string, string>>
  constructor(code: HttpErrorCode, message: string, details?: unknown, headers: Readonly<Record<string, string>> = {}) {
    super(message)
    this.code = code
    this.details = details
    this.headers = headers
  }
}

interface AjvIssue {
  readonly instancePath?: string
  readonly message?: string
  readonly keyword?: string
  readonly params?: Record<string, unknown>
}

/** Ajv's errors (query strings, path parameters) as {path, in, message}, one per bad field. */
function ajvDetails(issues: readonly AjvIssue[], context: string | undefined): { path: string; in?: string; message: string }[] {
  const where = context === 'querystring' ? 'query' : context === 'params' ? 'path' : context
  return issues.map((issue) => {
    let path = issue.instancePath ?? ''
    let message = issue.message ?? 'is invalid'
    if (issue.keyword === 'required' && typeof issue.params?.['missingProperty'] === 'string') {
      path += `/${issue.params['missingProperty']}`
      message = 'is required'
    } else if (issue.keyword === 'additionalProperties' && typeof issue.params?.['additionalProperty'] === 'string') {
      path += `/${issue.params['additionalProperty']}`
      message = 'is not a known parameter'
    }
    return { path: path === '' ? '/' : path, ...(where === undefined ? {} : { in: where }), message }
  })
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof AppError) {
    const status = STATUS[err.code]
    const headers: Record<string, string> = status === 503 ? { 'retry-after': '1' } : {}
    if (err.code === 'UNAUTHORIZED') headers['www-authenticate'] = 'Bearer realm="sensorstream"'
    const message = status >= 500 && status !== 503 ? 'internal error' : err.message
    return { status, headers, body: { error: err.code, message, ...(err.details === undefined ? {} : { details: err.details }) } }
  }
  if (err instanceof HttpEdgeError) {
    return {
      status: STATUS[err.code],
      headers: err.headers,
      body: { error: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) }
    }
  }
  const fe = err as Partial<FastifyError> & { validationContext?: string }
  if (Array.isArray(fe.validation)) {
    return {
      status: 400,
      headers: {},
      body: { error: 'VALIDATION_FAILED', message: 'the request is not valid', details: ajvDetails(fe.validation as AjvIssue[], fe.validationContext) }
    }
  }
  const status =
    typeof fe.statusCode === 'number' ? fe.statusCode : (CONNECTION_ERROR_STATUS[fe.code ?? ''] ?? (fe.code?.startsWith('HPE_') === true ? 400 : 500))
  switch (status) {
    case 400: {
      const json = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError
      const message = fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'the body is empty; a JSON document was expected' : (fe.message ?? 'bad request')
      return { status, headers: {}, body: { error: json ? 'INVALID_JSON' : 'BAD_REQUEST', message } }
    }
    case 404:
      return { status, headers: {}, body: { error: 'NOT_FOUND', message: fe.message ?? 'not found' } }
    case 408:
      return { status, headers: {}, body: { error: 'REQUEST_TIMEOUT', message: 'the request was not received in time' } }
    case 413:
      return { status, headers: {}, body: { error: 'PAYLOAD_TOO_LARGE', message: fe.message ?? 'the body is too large' } }
    case 414:
      return { status, headers: {}, body: { error: 'URI_TOO_LONG', message: 'a path parameter is too long' } }
    case 415:
      return { status, headers: {}, body: { error: 'UNSUPPORTED_MEDIA_TYPE', message: 'the body must be application/json' } }
    case 431:
      return { status, headers: {}, body: { error: 'HEADERS_TOO_LARGE', message: 'the request headers are too large' } }
    default:
      if (status >= 400 && status < 500) return { status, headers: {}, body: { error: 'BAD_REQUEST', message: fe.message ?? 'bad request' } }
      return { status: 500, headers: {}, body: { error: 'INTERNAL', message: 'internal error' } }
  }
}

/** Errors Node's HTTP parser raises before a request exists (`clientError`), by code. */
const CONNECTION_ERROR_STATUS: Readonly<Record<string, number>> = {
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_HEADER_OVERFLOW: 431
}

/**
 * Answers on a bare socket (no request object exists, or Node handed the socket over), with the
 * same mapping as every other error, then closes the connection.
 */
function answerOnSocket(socket: Duplex, err: unknown, head = false): void {
  const { status, headers, body } = toHttpError(err)
  const json = JSON.stringify(body)
  // an answer to HEAD has no body, only the length a GET would get (else the client reads it as a second answer)
  const payload = head ? '' : json
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')
  // end() flushes the answer before the connection closes; destroy() alone could drop it
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${extra}Content-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${payload}`,
    () => socket.destroy()
  )
}

/**
 * Node's `clientError`: the request could not be parsed or was not received in time. Answered
 * when nothing of a response was written yet; the connection is closed either way.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex, logger: Logger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy()
    return
  }
  logger.debug({ err }, 'client error')
  // the parser hands over the request's first bytes: enough to tell a HEAD
  const raw = (err as { rawPacket?: unknown }).rawPacket
  answerOnSocket(socket, err, Buffer.isBuffer(raw) && raw.subarray(0, 5).toString('latin1') === 'HEAD ')
}

/** Node hands CONNECT requests to a `connect` listener (or drops them): this API tunnels nothing. */
export function answerConnect(socket: Duplex): void {
  answerOnSocket(socket, new HttpEdgeError('METHOD_NOT_ALLOWED', 'CONNECT is not allowed: this API is not a proxy'))
}

export function sendError(reply: FastifyReply, err: unknown, logger: Logger): FastifyReply {
  const answer = toHttpError(err)
  if (answer.status >= 500) {
    const level = answer.status === 503 ? 'warn' : 'error'
    logger[level]({ err, url: reply.request.url, method: reply.request.method }, 'request failed')
  }
  return reply.code(answer.status).headers(answer.headers).type('application/json; charset=utf-8').send(answer.body)
}

/** Options of Fastify's router (find-my-way) that change which paths match; the 405 check uses the same. */
export const ROUTER_OPTIONS = { maxParamLength: 256 } as const

/**
 * Installs the error handler and a not-found handler that tells 405 (the path exists with other
 * methods; `Allow` lists them) from 404. Call before any route is registered: every route Fastify
 * registers is entered, as it is declared, in a router of the same library Fastify matches with, so
 * the two agree on what a path matches.
 */
export function installErrorHandling(app: FastifyInstance, logger: Logger): void {
  const known = FindMyWay(ROUTER_OPTIONS)
  const methods = new Set<HTTPMethod>()
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat() as HTTPMethod[]) {
      if (known.hasRoute(method, route.url)) continue
      known.on(method, route.url, () => undefined)
      methods.add(method)
    }
  })

  app.setErrorHandler((err, _request, reply) => sendError(reply, err, logger))

  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? '/'
    const allowed = [...methods].filter((method) => known.find(method, path) !== null)
    if (allowed.length > 0) {
      const allow = allowed.sort().join(', ')
      return sendError(
        reply,
        new HttpEdgeError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; allowed: ${allow}`, undefined, { allow }),
        logger
      )
    }
    return sendError(reply, new HttpEdgeError('NOT_FOUND', `no route ${request.method} ${path}`), logger)
  })
}
