"""Symbol-sharded workers over NATS JetStream: the shard assignment and the lease rules
(:mod:`arbscan.cluster.shards`, sans-I/O), the NATS shell (:mod:`arbscan.cluster.bus`), the
worker (:mod:`arbscan.cluster.worker`) and the stream's consumers
(:mod:`arbscan.cluster.consume`). Only the commands that use NATS import this package."""
