/**
 * @effect/rpc over Redis pub/sub, for calls between cluster instances. Each instance listens
 * on its own channel; a request is published to the target's channel and its reply to the
 * caller's, matched by the request id the RPC client put in it. One client serves every
 * target: the target travels as a request header and is remembered per request, so an
 * interrupt (a call that timed out) reaches the same instance. Pub/sub delivers to whoever
 * listens now or to nobody, so a call to an instance that is gone fails at once (nobody
 * received it) and a call to one that is paused waits for the caller's timeout.
 */
import { RpcClient, RpcClientError, RpcServer } from "@effect/rpc"
import type { FromClientEncoded, FromServerEncoded } from "@effect/rpc/RpcMessage"
import { Effect, Mailbox, Queue, Schema } from "effect"
import type { Duration } from "effect"
import type { Redis } from "ioredis"
import { ClusterCallTimeout, InstanceUnreachable } from "../services/errors.js"

/** The request header naming the instance a call goes to. */
const targetHeader = "x-lcg-instance"

const Envelope = Schema.parseJson(
  Schema.Struct({
    from: Schema.String,
    kind: Schema.Literal("request", "response"),
    message: Schema.Struct({ _tag: Schema.String }, Schema.Record({ key: Schema.String, value: Schema.Unknown }))
  })
)
const decodeEnvelope = Schema.decodeUnknownEither(Envelope)

export interface RedisRpcOptions {
  /** Publishes requests and replies. */
  readonly redis: Redis
  /** A subscriber connection; this subscribes it to the instance's own channel. */
  readonly subscriber: Redis
  readonly instanceId: string
  readonly channelOf: (instanceId: string) => string
}

export interface RedisRpcProtocols {
  readonly server: RpcServer.Protocol["Type"]
  readonly client: RpcClient.Protocol["Type"]
}

export const makeRedisRpcProtocols = (options: RedisRpcOptions) =>
  Effect.gen(function*() {
    const { channelOf, instanceId, redis, subscriber } = options
    const ownChannel = channelOf(instanceId)
    const publish = (target: string, kind: "request" | "response", message: FromClientEncoded | FromServerEncoded) =>
      Effect.tryPromise({
        try: () => redis.publish(channelOf(target), JSON.stringify({ from: instanceId, kind, message })),
        catch: (cause) =>
          new RpcClientError.RpcClientError({ reason: "Protocol", message: `could not publish to ${target}`, cause })
      })

    // Server side: each calling instance is one client of the RPC server.
    const clientIds = new Map<string, number>()
    const callers: Array<string> = []
    const clientIdOf = (caller: string) => {
      const known = clientIds.get(caller)
      if (known !== undefined) return known
      callers.push(caller)
      clientIds.set(caller, callers.length - 1)
      return callers.length - 1
    }
    let toServer: (clientId: number, message: FromClientEncoded) => Effect.Effect<void> = () => Effect.void
    const server = yield* RpcServer.Protocol.make((writeRequest) =>
      Effect.gen(function*() {
        toServer = writeRequest
        return {
          // Nobody is reported gone: handlers are short, and a caller that left stops listening.
          disconnects: yield* Mailbox.make<number>(),
          send: (clientId, response) => {
            const caller = callers[clientId]
            return caller === undefined ? Effect.void : Effect.ignore(publish(caller, "response", response))
          },
          end: () => Effect.void,
          clientIds: Effect.sync(() => new Set(clientIds.values())),
          initialMessage: Effect.succeedNone,
          supportsAck: false,
          supportsTransferables: false,
          supportsSpanPropagation: false
        }
      })
    )

    // Client side: the instance each pending request went to.
    const targets = new Map<string, string>()
    let toClient: (response: FromServerEncoded) => Effect.Effect<void> = () => Effect.void
    const client = yield* RpcClient.Protocol.make((writeResponse) => {
      toClient = writeResponse
      return Effect.succeed({
        supportsAck: false,
        supportsTransferables: false,
        send: (request: FromClientEncoded) => {
          switch (request._tag) {
            case "Request": {
              const target = request.headers.find(([name]) => name === targetHeader)?.[1]
              if (target === undefined) {
                return Effect.fail(
                  new RpcClientError.RpcClientError({
                    reason: "Protocol",
                    message: "a cluster call must name its instance"
                  })
                )
              }
              targets.set(request.id, target)
              return publish(target, "request", request).pipe(
                Effect.filterOrFail(
                  (receivers) => receivers > 0,
                  () =>
                    new RpcClientError.RpcClientError({
                      reason: "Protocol",
                      message: `no instance ${target} is listening`
                    })
                ),
                Effect.tapError(() => Effect.sync(() => targets.delete(request.id))),
                Effect.asVoid
              )
            }
            case "Interrupt": {
              const target = targets.get(request.requestId)
              targets.delete(request.requestId)
              return target === undefined ? Effect.void : Effect.ignore(publish(target, "request", request))
            }
            default:
              // Acks are off, and pings and end-of-input mean nothing over pub/sub.
              return Effect.void
          }
        }
      })
    })

    // One fiber hands messages over in arrival order, so a request and its interrupt cannot race.
    const inbox = yield* Queue.unbounded<string>()
    const onMessage = (channel: string, raw: string) => {
      if (channel === ownChannel) Queue.unsafeOffer(inbox, raw)
    }
    const dispatch = (raw: string) => {
      const envelope = decodeEnvelope(raw)
      if (envelope._tag === "Left") {
        return Effect.logWarning("ignored a malformed cluster call message", { channel: ownChannel })
      }
      const { from, kind, message } = envelope.right
      if (kind === "request") return toServer(clientIdOf(from), message as unknown as FromClientEncoded)
      const response = message as unknown as FromServerEncoded
      switch (response._tag) {
        case "Exit":
          targets.delete(response.requestId)
          return toClient(response)
        case "Chunk":
          return toClient(response)
        case "Defect":
          // The client would fail every pending call, whatever its target; the calls to `from` time out instead.
          return Effect.logWarning("a cluster call failed on the remote instance", {
            instanceId: from,
            defect: response.defect
          })
        default:
          return Effect.void
      }
    }
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(inbox), dispatch)))
    subscriber.on("message", onMessage)
    // Queued until connected when Redis is away; ioredis subscribes again after every reconnect.
    subscriber.subscribe(ownChannel).catch(() => undefined)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        subscriber.off("message", onMessage)
        subscriber.unsubscribe(ownChannel).catch(() => undefined)
      })
    )
    const protocols: RedisRpcProtocols = { server, client }
    return protocols
  })

/**
 * One call to one instance, bounded by `timeout`: no answer in time is `ClusterCallTimeout`
 * (the call is interrupted there too); nobody listening is `InstanceUnreachable`.
 */
export const callInstance = <A, E>(
  instanceId: string,
  call: string,
  timeout: Duration.Duration,
  send: (options: { readonly headers: Record<string, string> }) => Effect.Effect<A, E | RpcClientError.RpcClientError>
): Effect.Effect<A, Exclude<E, RpcClientError.RpcClientError> | ClusterCallTimeout | InstanceUnreachable> =>
  send({ headers: { [targetHeader]: instanceId } }).pipe(
    Effect.catchIf(
      (error): error is RpcClientError.RpcClientError => error instanceof RpcClientError.RpcClientError,
      (error) => Effect.fail(new InstanceUnreachable({ message: error.message, instanceId }))
    ),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new ClusterCallTimeout({ message: `${instanceId} did not answer ${call} in time`, instanceId, call })
    })
  )
