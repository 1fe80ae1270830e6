/** kafkajs's table of Kafka protocol errors (not in its type declarations; see client.ts). */
declare module 'kafkajs/src/protocol/error.js' {
  export const errorCodes: readonly { type: string; code: number; retriable: boolean; message: string }[];
}
