// Types for `cluster-key-slot` (the CRC16 key-to-slot function ioredis itself uses), which
// ships none: the Redis Cluster slot (0..16383) a key, or its {hash tag}, hashes to.
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
