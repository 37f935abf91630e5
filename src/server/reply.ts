// Sends a result in Qdrant's success envelope `{ result, status: "ok", time }`.
import type { FastifyReply } from 'fastify'
import { okEnvelope } from './wire/records.js'

/** Replies 200 with `{ result, status: 'ok', time }`; `time` is seconds since the request arrived. */
export function sendOk(reply: FastifyReply, result: unknown): FastifyReply {
  return reply.send(okEnvelope(result, reply.elapsedTime / 1000))
}
