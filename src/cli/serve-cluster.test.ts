import { describe, expect, it } from 'vitest'
import { UsageError } from './args.js'
import { clusterOptions } from './serve.js'

describe('quiver serve cluster flags', () => {
  it('reads the flags, else the environment, and passes --no-rebalance on', () => {
    expect(clusterOptions({ cluster: 'nats://127.0.0.1:4222', nodeId: 'n1', rebalance: false }, {})).toEqual({
      servers: ['nats://127.0.0.1:4222'],
      nodeId: 'n1',
      rebalance: false,
    })
    expect(
      clusterOptions(
        { rebalance: true },
        {
          QUIVER__CLUSTER__URL: 'nats://a:1,nats://b:2',
          QUIVER__CLUSTER__NODE_ID: 'x',
          QUIVER__CLUSTER__REPLICAS: '3',
        },
      ),
    ).toEqual({ servers: ['nats://a:1', 'nats://b:2'], nodeId: 'x', replicas: 3 })
    expect(clusterOptions({ rebalance: true }, {})).toBeUndefined()
    expect(
      clusterOptions({ cluster: 'nats://127.0.0.1:4222', nodeId: 'n1', shardSnapshotRecords: 0 }, {}),
    ).toEqual({ servers: ['nats://127.0.0.1:4222'], nodeId: 'n1', shardSnapshotRecords: 0 })
  })

  it('refuses cluster flags without a cluster and bad values, naming the flag', () => {
    for (const [opts, msg] of [
      [{ rebalance: false }, '--no-rebalance and --shard-snapshot-records need --cluster'],
      [{ shardSnapshotRecords: 0 }, 'need --cluster'],
      [{ nodeId: 'n1' }, 'need --cluster'],
      [{ cluster: 'nats://127.0.0.1:4222' }, '--cluster needs --node-id'],
      [{ cluster: 'nats://127.0.0.1:4222', nodeId: 'bad id' }, '--node-id must be'],
      [
        { cluster: 'nats://127.0.0.1:4222', nodeId: 'n1', clusterReplicas: 2 },
        '--cluster-replicas must be 1, 3 or 5',
      ],
      [{ cluster: 'http://x', nodeId: 'n1' }, 'is not a NATS URL'],
    ] as const) {
      let err: unknown
      try {
        clusterOptions(opts, {})
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(UsageError)
      expect((err as Error).message).toContain(msg)
    }
  })
})
